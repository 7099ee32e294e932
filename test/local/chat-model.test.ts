import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, HumanMessage, SystemMessage, type BaseMessage } from "@langchain/core/messages";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_LOCAL_MODEL,
  LocalChatModel,
  LocalModelError,
  MalformedOutputError,
  createLocalChatModel,
  defaultLocalThreads,
  disposeLocalModels,
  toChatHistory,
  toGrammarSchema,
} from "../../models/local/index.js";
import { writeTinyLlamaGguf } from "../support/gguf-writer.js";

let dir: string;
let modelPath: string;

const tiny = (extra: Partial<ConstructorParameters<typeof LocalChatModel>[0]> = {}): LocalChatModel =>
  new LocalChatModel({ model: modelPath, temperature: 0, maxTokens: 24, threads: 1, gpu: false, ...extra });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "codeclm-chat-"));
  modelPath = path.join(dir, "tiny.gguf");
  await writeTinyLlamaGguf(modelPath);
});

afterAll(async () => {
  await disposeLocalModels();
  await rm(dir, { recursive: true, force: true });
});

class RunCounter extends BaseCallbackHandler {
  name = "run-counter";
  starts = 0;
  ends = 0;
  override handleChatModelStart(): void {
    this.starts++;
  }
  override handleLLMEnd(): void {
    this.ends++;
  }
}

describe("LocalChatModel", () => {
  it("is constructed synchronously without touching the file", async () => {
    const missing = new LocalChatModel({ model: path.join(dir, "does-not-exist.gguf"), gpu: false });
    expect(missing._llmType()).toBe("local-llama-cpp");
    expect(missing.threads).toBe(defaultLocalThreads());
    const err = await missing.invoke("hi").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalModelError);
    expect((err as LocalModelError).code).toBe("not-found");
    expect(() => new LocalChatModel({ model: "" })).toThrow(LocalModelError);
    expect(() => new LocalChatModel({ model: modelPath, threads: 0 })).toThrow(RangeError);
  });

  it("answers a plain prompt through the model's chat template, with usage metadata", async () => {
    const model = tiny();
    const answer = await model.invoke("Hello, who are you?");
    expect(typeof answer.content).toBe("string");
    expect((answer.content as string).length).toBeGreaterThan(0);
    const usage = answer.usage_metadata;
    expect(usage).toBeDefined();
    // ChatML framing + the text, one token per byte with this tokenizer.
    expect(usage?.input_tokens).toBeGreaterThan("Hello, who are you?".length);
    expect(usage?.output_tokens).toBeGreaterThan(0);
    expect(usage?.output_tokens).toBeLessThanOrEqual(24);
    expect(usage?.total_tokens).toBe((usage?.input_tokens ?? 0) + (usage?.output_tokens ?? 0));
    expect(answer.response_metadata).toMatchObject({ model_provider: "local", model_name: "tiny" });
    const loaded = await model.load();
    expect(loaded).toMatchObject({ path: modelPath, threads: 1, sequences: 2, contextSize: 2048 });
  });

  it("is deterministic at temperature 0 and stops at maxTokens with finish_reason length", async () => {
    const model = tiny({ maxTokens: 16, model: modelPath });
    const a = await model.invoke("Same prompt");
    const b = await model.invoke("Same prompt");
    expect(a.content).toBe(b.content);
    if (a.usage_metadata?.output_tokens === 16) expect(a.response_metadata["finish_reason"]).toBe("length");
  });

  it("takes multi-turn conversations (system, user, assistant, user) and counts the whole prompt", async () => {
    const model = tiny();
    const short = await model.invoke([new HumanMessage("again")]);
    const messages: BaseMessage[] = [
      new SystemMessage("You are terse."),
      new HumanMessage("Hi"),
      new AIMessage("Hello."),
      new HumanMessage("again"),
    ];
    const long = await model.invoke(messages);
    expect(long.usage_metadata?.input_tokens).toBeGreaterThan((short.usage_metadata?.input_tokens ?? 0) + 20);
    const history = toChatHistory(messages);
    expect(history.map((h) => h.type)).toEqual(["system", "user", "model", "user", "model"]);
    // Prompt templates work as with any chat model.
    const chain = ChatPromptTemplate.fromMessages([
      ["system", "You answer about {topic}."],
      ["human", "{question}"],
    ]).pipe(model);
    const viaChain = await chain.invoke({ topic: "lighthouses", question: "Why?" });
    expect(viaChain.usage_metadata?.output_tokens).toBeGreaterThan(0);
  });

  it("shares one loaded model and context between instances with the same file and settings", async () => {
    const a = tiny({ temperature: 0 });
    const b = tiny({ temperature: 0.9 });
    const c = tiny({ threads: 1, sequences: 1 });
    const [la, lb, lc] = await Promise.all([a.loadedModel(), b.loadedModel(), c.loadedModel()]);
    expect(la.model).toBe(lb.model);
    expect(la.model).toBe(lc.model);
    expect((await a.load()).sequences).toBe(2);
    expect((await c.load()).sequences).toBe(1);
  });

  it("streams chunks and ends with the usage", async () => {
    const model = tiny({ maxTokens: 12 });
    const chunks: string[] = [];
    let usage: number | undefined;
    for await (const chunk of await model.stream("Stream this")) {
      if (typeof chunk.content === "string" && chunk.content !== "") chunks.push(chunk.content);
      if (chunk.usage_metadata !== undefined) usage = chunk.usage_metadata.output_tokens;
    }
    expect(chunks.length).toBeGreaterThan(1);
    expect(usage).toBeGreaterThan(0);
    const whole = await model.invoke("Stream this");
    expect(chunks.join("")).toBe(whole.content);
  });

  it("runs several calls concurrently (2 sequences, the rest queued) and answers each one", async () => {
    const model = tiny({ maxTokens: 20 });
    const prompts = Array.from({ length: 6 }, (_, i) => `Question number ${i}`);
    const answers = await Promise.all(prompts.map((p) => model.invoke(p)));
    expect(answers).toHaveLength(6);
    for (const [i, a] of answers.entries()) {
      expect(a.usage_metadata?.output_tokens).toBeGreaterThan(0);
      // Each answer belongs to its own prompt: the prompt lengths differ by the digits only.
      expect(a.usage_metadata?.input_tokens).toBe(answers[0]?.usage_metadata?.input_tokens);
      expect(a.content).toBe((await model.invoke(prompts[i] ?? "")).content);
    }
    const batched = await model.batch(prompts.slice(0, 3));
    expect(batched).toHaveLength(3);
  });

  it("honours an abort signal: before the call, during generation, and while queued", async () => {
    const model = tiny({ maxTokens: 100_000, sequences: 1, model: modelPath });
    const pre = new AbortController();
    pre.abort(new Error("cancelled before"));
    await expect(model.invoke("x", { signal: pre.signal })).rejects.toThrow("cancelled before");

    const during = new AbortController();
    const started = Date.now();
    setTimeout(() => during.abort(new Error("cancelled during")), 150);
    const running = model.invoke("Write forever", { signal: during.signal });
    // A second call on the single sequence waits in the queue and is aborted there.
    const queued = new AbortController();
    const waiting = model.invoke("Queued", { signal: queued.signal });
    setTimeout(() => queued.abort(new Error("cancelled in queue")), 50);
    await expect(waiting).rejects.toThrow("cancelled in queue");
    await expect(running).rejects.toThrow("cancelled during");
    // "Write forever" with 100 000 tokens would take minutes; the abort ends it (bound generous for a loaded machine).
    expect(Date.now() - started).toBeLessThan(30_000);
    // The sequence is free again afterwards.
    const after = await tiny({ maxTokens: 5, sequences: 1 }).invoke("ok?");
    expect(after.usage_metadata?.output_tokens).toBeGreaterThan(0);
  });

  it("honours LangChain's timeout option", async () => {
    const model = tiny({ maxTokens: 100_000 });
    await expect(model.invoke("Write forever", { timeout: 100 })).rejects.toThrow(/aborted due to timeout/);
  });
});

describe("LocalChatModel.withStructuredOutput", () => {
  const Profile = z.object({
    name: z.string().min(1).max(24),
    active: z.boolean(),
    kind: z.enum(["person", "team"]),
    score: z.number().int().min(1).max(10),
    tags: z.array(z.string().max(10)).max(3),
    nickname: z.string().max(12).nullable(),
  });

  it("returns zod-validated objects through the JSON-schema grammar", async () => {
    const model = tiny({ maxTokens: 400 });
    const parsed = await model.withStructuredOutput(Profile).invoke("Describe a profile as JSON.");
    expect(Profile.parse(parsed)).toEqual(parsed);
    expect(Number.isInteger(parsed.score)).toBe(true);
  });

  it("is reliable across sampled generations (temperature 0.9, several seeds)", async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const model = tiny({ maxTokens: 400, temperature: 0.9, seed });
      const parsed = await model.withStructuredOutput(Profile).invoke(`Profile ${seed}`);
      expect(Profile.safeParse(parsed).success).toBe(true);
    }
  });

  it("supports includeRaw, with the usage of all attempts on raw", async () => {
    const model = tiny({ maxTokens: 400 });
    const counter = new RunCounter();
    const result = await model
      .withStructuredOutput(Profile, { includeRaw: true, name: "profile" })
      .invoke([new SystemMessage("You write profiles."), new HumanMessage("One profile please.")], {
        callbacks: [counter],
      });
    expect(Profile.parse(result.parsed)).toEqual(result.parsed);
    const attempts = (result.raw.response_metadata as Record<string, unknown>)["structured_output_attempts"] as number;
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(counter.starts).toBe(attempts);
    const usage = (result.raw as AIMessage).usage_metadata;
    expect(usage?.input_tokens).toBeGreaterThan(0);
    expect(usage?.output_tokens).toBeGreaterThan(0);
    // The schema was stated in the system prompt too.
    expect(usage?.input_tokens).toBeGreaterThan(JSON.stringify(z.toJSONSchema(Profile)).length / 2);
  });

  it("retries a schema the grammar allows but zod refines away, then throws MalformedOutputError", async () => {
    const Impossible = z.object({
      code: z
        .string()
        .max(8)
        .refine((s) => s === "never-produced-123", "must be the secret code"),
    });
    const model = tiny({ maxTokens: 200, structuredOutputRetries: 2 });
    const counter = new RunCounter();
    const err = await model
      .withStructuredOutput(Impossible)
      .invoke("Give the code", { callbacks: [counter] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MalformedOutputError);
    expect(err).toBeInstanceOf(LocalModelError);
    const e = err as MalformedOutputError;
    expect(e.code).toBe("malformed-output");
    expect(e.message).toContain("malformed structured output 3 time(s)");
    expect(e.message).toContain("must be the secret code");
    expect(e.attempts).toHaveLength(3);
    expect(counter.starts).toBe(3);
    expect(e.usage.output_tokens).toBeGreaterThan(0);
    expect(e.usage.total_tokens).toBe(e.usage.input_tokens + e.usage.output_tokens);

    const once = tiny({ maxTokens: 200, structuredOutputRetries: 0 });
    const err0 = (await once
      .withStructuredOutput(Impossible)
      .invoke("Give the code")
      .catch((x: unknown) => x)) as MalformedOutputError;
    expect(err0.attempts).toHaveLength(1);
  });

  it("reports output cut off by maxTokens as malformed JSON", async () => {
    const model = tiny({ maxTokens: 8, structuredOutputRetries: 1 });
    const err = (await model
      .withStructuredOutput(Profile)
      .invoke("x")
      .catch((e: unknown) => e)) as MalformedOutputError;
    expect(err).toBeInstanceOf(MalformedOutputError);
    expect(err.message).toContain("not valid JSON");
  });

  it("handles nested objects, arrays of objects, records, optional, nullable and literal fields", async () => {
    const Rich = z.object({
      kind: z.literal("rubric"),
      criteria: z
        .array(
          z.object({
            name: z.string().min(1).max(12),
            weight: z.number().int().min(1).max(3),
            note: z.string().max(10).optional(),
          }),
        )
        .min(1)
        .max(2),
      flags: z.record(z.string().max(6), z.boolean()),
      parent: z.object({ id: z.enum(["x", "y"]) }).nullable(),
    });
    const model = tiny({ maxTokens: 400, temperature: 0.7, seed: 3 });
    const parsed = await model.withStructuredOutput(Rich).invoke("A rubric as JSON.");
    expect(Rich.parse(parsed)).toEqual(parsed);
    expect(parsed.criteria.length).toBeGreaterThanOrEqual(1);
  });

  it("accepts a plain JSON schema", async () => {
    const model = tiny({ maxTokens: 200 });
    const parsed = await model
      .withStructuredOutput({
        type: "object",
        properties: { ok: { type: "boolean" }, level: { type: "string", enum: ["low", "high"] } },
        required: ["ok", "level"],
        additionalProperties: false,
      })
      .invoke("json");
    expect(typeof parsed["ok"]).toBe("boolean");
    expect(["low", "high"]).toContain(parsed["level"]);
  });
});

describe("toGrammarSchema", () => {
  it("maps zod's JSON schema onto the grammar subset, adding bounds", () => {
    const schema = z.toJSONSchema(
      z.object({
        text: z.string(),
        short: z.string().max(5),
        items: z.array(z.string()),
        rating: z.number().int().min(1).max(5),
        big: z.number().int(),
        maybe: z.string().nullable(),
        when: z.iso.datetime(),
      }),
    );
    const g = toGrammarSchema(schema, { maxStringLength: 100, maxItems: 7, maxEnumRange: 10 }) as {
      properties: Record<string, Record<string, unknown>>;
    };
    expect(g.properties["text"]).toMatchObject({ type: "string", maxLength: 100 });
    expect(g.properties["short"]).toMatchObject({ type: "string", maxLength: 5 });
    expect(g.properties["items"]).toMatchObject({
      type: "array",
      maxItems: 7,
      items: { type: "string", maxLength: 100 },
    });
    expect(g.properties["rating"]).toEqual({ enum: [1, 2, 3, 4, 5] });
    expect(g.properties["big"]).toEqual({ type: "integer" });
    expect(g.properties["maybe"]).toEqual({ oneOf: [{ type: "string", maxLength: 100 }, { type: "null" }] });
    expect(g.properties["when"]).toMatchObject({ type: "string", format: "date-time" });
    expect(JSON.stringify(g)).not.toContain("$schema");

    const record = toGrammarSchema(z.toJSONSchema(z.record(z.string(), z.boolean())), {
      maxStringLength: 50,
      maxItems: 4,
      maxEnumRange: 10,
    });
    expect(record).toMatchObject({ type: "object", additionalProperties: { type: "boolean" }, maxProperties: 4 });
    const open = toGrammarSchema({ type: "object", properties: { a: { type: "string" } } });
    expect(open["additionalProperties"]).toBe(false);
  });
});

describe("createLocalChatModel", () => {
  it("builds a LocalChatModel (a BaseChatModel) from a spec without the local: prefix", async () => {
    const model: BaseChatModel = createLocalChatModel(modelPath, { temperature: 0, maxTokens: 5, threads: 1 });
    expect(model).toBeInstanceOf(LocalChatModel);
    expect((model as LocalChatModel).model).toBe(modelPath);
    expect((createLocalChatModel("") as LocalChatModel).model).toBe(DEFAULT_LOCAL_MODEL);
    expect((createLocalChatModel("local:default") as LocalChatModel).model).toBe(DEFAULT_LOCAL_MODEL);
    const answer = await model.invoke("hi");
    expect(answer.usage_metadata?.output_tokens).toBeGreaterThan(0);
  });
});
