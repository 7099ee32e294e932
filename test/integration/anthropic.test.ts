/**
 * The whole graph with Claude (through the real ChatAnthropic) as the strong model and judge, against the local
 * Messages-API server, while that server misbehaves the way Anthropic's does: 429 with retry-after, 529
 * overloaded, a cut tool_use reply. The run still keeps exactly `size` pairs, and the summary counts each fault.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import type { CodecConfigInput, StructuredOutputMethod } from "../../lib/config.js";
import { KeptPairSchema } from "../../lib/records.js";
import {
  type AnthropicServerOptions,
  type FakeAnthropicServer,
  startAnthropicServer,
} from "../support/anthropic-server.js";
import { codecReply } from "../support/codec-responder.js";
import { type FinalState, asContext, seeds } from "../support/graph-fixtures.js";
import { type FakeOpenAIServer, type FaultKind, startOpenAIServer } from "../support/openai-server.js";

const KEY = "sk-ant-integration-0123456789-secret";
let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.map((close) => close()));
  closers = [];
});

async function servers(options: Partial<AnthropicServerOptions>): Promise<[FakeAnthropicServer, FakeOpenAIServer]> {
  const claude = await startAnthropicServer({
    respond: (request) => {
      const reply = codecReply("strong", request.messages.map((message) => message.content).join("\n"));
      return typeof reply === "string" ? { text: reply } : { json: reply };
    },
    ...options,
  });
  const openai = await startOpenAIServer({
    respond: (request) => codecReply("target", request.messages.map((message) => message.content).join("\n")) as string,
  });
  closers.push(
    () => claude.close(),
    () => openai.close(),
  );
  return [claude, openai];
}

async function run(claude: FakeAnthropicServer, openai: FakeOpenAIServer, method?: StructuredOutputMethod) {
  const context: CodecConfigInput = {
    strong: {
      model: "anthropic:claude-haiku-4-5",
      baseUrl: claude.url,
      ...(method ? { structuredOutput: method } : {}),
    },
    target: { model: "openai:target-model", baseUrl: openai.url },
    size: 3,
    poolSize: 3,
    seed: 7,
    maxIterations: 2,
  };
  const graph = createCodecGraph({ env: { ANTHROPIC_API_KEY: KEY, OPENAI_API_KEY: "sk-openai-x" } });
  return (await graph.invoke({ seeds: seeds(3) }, { context: asContext(context) })) as unknown as FinalState;
}

describe("a run with Claude as the strong model and judge", () => {
  it("retries 429 (with retry-after), 529 and a cut tool_use reply, and keeps exactly size pairs", async () => {
    // The 2nd, 5th and 7th structured requests fail, whatever the text requests around them do.
    const faults = new Map<number, FaultKind>([
      [2, "429"],
      [5, "503"],
      [7, "malformed-json"],
    ]);
    let structured = 0;
    const [claude, openai] = await servers({
      retryAfterSeconds: 0,
      fault: (request) => (request.mode === "tools" ? faults.get(++structured) : undefined),
    });
    const state = await run(claude, openai);
    expect(state.summary.status).toBe("complete");
    expect(state.kept).toHaveLength(3);
    for (const pair of state.kept) expect(() => KeptPairSchema.parse(pair)).not.toThrow();
    expect(claude.counters.faults).toMatchObject({ "429": 1, "503": 1, "malformed-json": 1 });
    expect(state.summary.transport).toMatchObject({ faults: { "rate-limit": 1, server: 1 }, malformed: 1, givenUp: 0 });
    const spend = state.summary.spend!.byModel["anthropic:claude-haiku-4-5"]!;
    expect(spend.inputTokens).toBeGreaterThan(0);
    // Haiku 4.5: $1 / $5 per million tokens.
    expect(spend.costUsd).toBeCloseTo((spend.inputTokens * 1 + spend.outputTokens * 5) / 1e6, 10);
    expect(JSON.stringify(state)).not.toContain(KEY.slice(-12));
  });

  it("asks for the Messages API's JSON-schema output format when the role says jsonSchema", async () => {
    const [claude, openai] = await servers({});
    const state = await run(claude, openai, "jsonSchema");
    expect(state.kept).toHaveLength(3);
    expect(claude.requests.some((request) => request.mode === "json_schema")).toBe(true);
    expect(claude.requests.some((request) => request.mode === "tools")).toBe(false);
  });
});
