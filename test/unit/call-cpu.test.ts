/**
 * What the call path no longer pays for (bench/cpu.ts measures it), without changing what it does: the same
 * json_schema request body with the schema converted once, and the config still reaching nested runnables
 * when no LangSmith run tree is built per runnable.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { RunnableLambda } from "@langchain/core/runnables";
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";
import { ChatOpenAI } from "@langchain/openai";
import { RunTree } from "langsmith";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { resolveConfig } from "../../lib/config.js";
import { ModelFactory } from "../../models/factory.js";
import { installLeanRunContext } from "../../models/lean-context.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";

describe("structured requests", () => {
  let server: FakeOpenAIServer;
  beforeAll(async () => {
    server = await startOpenAIServer({ respond: () => ({ json: { assistant1: 7, assistant2: 4 } }) });
  });
  afterAll(async () => server.close());

  it("send the json_schema body withStructuredOutput sends, with the schema converted once", async () => {
    const schema = z.object({ assistant1: z.number().describe("score"), assistant2: z.number() }).describe("scores");
    const settings = { temperature: 0, maxTokens: 256 };
    const env = { OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test-cpu" };
    const config = resolveConfig({
      strong: { model: "openai:strong-model" },
      target: { model: "openai:target-model" },
    });
    const factory = ModelFactory.fromConfig(config, { env });
    await factory.load(["strong"]);
    await factory.structured("strong", settings, schema, "pairwise_scores").invoke([["human", "Judge."]]);
    await factory.structured("strong", settings, schema, "pairwise_scores").invoke([["human", "Judge."]]);
    const plain = new ChatOpenAI({
      model: "strong-model",
      temperature: 0,
      maxTokens: 256,
      apiKey: "sk-test-cpu",
      maxRetries: 0,
      configuration: { baseURL: server.url },
    });
    const parsed = await plain.withStructuredOutput(schema, { name: "pairwise_scores" }).invoke([["human", "Judge."]]);
    expect(parsed).toEqual({ assistant1: 7, assistant2: 4 });
    const [ours, again, theirs] = server.requests.map((request) => request.body);
    expect(ours).toEqual(theirs);
    expect(again).toEqual(theirs);
    expect((theirs!.response_format as { json_schema: { strict: boolean } }).json_schema.strict).toBe(true);
  });
});

describe("the run context with tracing off", () => {
  it("still carries the config to nested runnables, without a run tree", async () => {
    // As importing LangGraph does.
    AsyncLocalStorageProviderSingleton.initializeGlobalInstance(new AsyncLocalStorage());
    installLeanRunContext();
    installLeanRunContext(); // idempotent
    const seen: unknown[] = [];
    const inner = RunnableLambda.from(async (input: number, config) => {
      seen.push(AsyncLocalStorageProviderSingleton.getInstance().getStore());
      return `${input}:${String(config?.metadata?.tag)}`;
    });
    // The outer lambda does not pass its config on: it reaches the inner one through the async context.
    const outer = RunnableLambda.from(async (input: number) => inner.invoke(input + 1));
    expect(await outer.invoke(1, { metadata: { tag: "kept" } })).toBe("2:kept");
    expect(seen.length).toBe(1);
    // What LangGraph does for every node and channel write: the config is reachable, no run tree was built.
    const config = { metadata: { tag: "direct" } };
    const store = await AsyncLocalStorageProviderSingleton.runWithConfig(config, async () => {
      expect(AsyncLocalStorageProviderSingleton.getRunnableConfig()).toBe(config);
      return AsyncLocalStorageProviderSingleton.getInstance().getStore();
    });
    expect(store).toBeDefined();
    expect(store).not.toBeInstanceOf(RunTree);
  });
});
