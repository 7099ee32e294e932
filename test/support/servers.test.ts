import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type AIMessageChunk, HumanMessage, SystemMessage, type AIMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { ChatGoogleGenerativeAI } from "@langchain/google-genai";
import {
  startOpenAIServer,
  type BaseChatRequest,
  type FakeOpenAIServer,
  type FaultKind,
  type OpenAIServerOptions,
  type Reply,
} from "./openai-server.js";
import { startGeminiServer, type FakeGeminiServer, type GeminiServerOptions } from "./gemini-server.js";

const Pair = z.object({
  instruction: z.string().describe("An instruction"),
  response: z.string().describe("Its response"),
});
const PAIR = { instruction: "Name a prime number.", response: "7" };

/** One responder for both protocols: JSON for structured modes, an echo otherwise. */
const respond = (req: BaseChatRequest): Reply => {
  if (req.mode !== "text") return { json: PAIR };
  const last = req.messages[req.messages.length - 1];
  return { text: `echo: ${last?.content ?? ""}` };
};

const open: Array<{ close(): Promise<void> }> = [];
const waitUntil = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
};
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function openai(options: Partial<OpenAIServerOptions> = {}): Promise<FakeOpenAIServer> {
  const s = await startOpenAIServer({ respond, ...options });
  open.push(s);
  return s;
}
async function gemini(options: Partial<GeminiServerOptions> = {}): Promise<FakeGeminiServer> {
  const s = await startGeminiServer({ respond, ...options });
  open.push(s);
  return s;
}

function chatOpenAI(server: FakeOpenAIServer, extra: { maxRetries?: number } = {}): ChatOpenAI {
  return new ChatOpenAI({
    model: "gpt-4o-mini",
    apiKey: "test-key-abcd",
    configuration: { baseURL: server.url },
    temperature: 0.3,
    maxTokens: 64,
    ...extra,
  });
}
function chatGemini(server: FakeGeminiServer, extra: { maxRetries?: number } = {}): ChatGoogleGenerativeAI {
  return new ChatGoogleGenerativeAI({
    model: "gemini-2.5-flash",
    apiKey: "gem-key-wxyz",
    baseUrl: server.url,
    temperature: 0.2,
    maxOutputTokens: 128,
    ...extra,
  });
}

const chatBody = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }], ...extra });
const post = (url: string, body: string, init: RequestInit = {}): Promise<Response> =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, ...init });

describe("OpenAI server with the real ChatOpenAI", () => {
  it("answers a plain invoke with usage, and records the request without the key", async () => {
    const server = await openai();
    const msg = await chatOpenAI(server).invoke([new SystemMessage("be brief"), new HumanMessage("hello")]);
    expect(msg.content).toBe("echo: hello");
    expect(msg.usage_metadata).toMatchObject({ input_tokens: expect.any(Number), output_tokens: 3 });
    expect(msg.usage_metadata!.total_tokens).toBe(msg.usage_metadata!.input_tokens + 3);

    const [req] = server.requests;
    expect(req).toMatchObject({
      path: "/v1/chat/completions",
      model: "gpt-4o-mini",
      mode: "text",
      stream: false,
      temperature: 0.3,
      max_tokens: 64,
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hello" },
      ],
      auth: { present: true, last4: "abcd" },
    });
    expect(req!.headers.authorization).toBeUndefined();
    expect(JSON.stringify(req)).not.toContain("test-key");
    expect(server.counters).toMatchObject({ requests: 1, completed: 1 });
  });

  it("streams several deltas and a usage chunk through .stream()", async () => {
    const server = await openai({ respond: () => "The quick brown fox jumps over the lazy dog." });
    const chunks: AIMessageChunk[] = [];
    for await (const c of await chatOpenAI(server).stream("go")) chunks.push(c);
    const textChunks = chunks.filter((c) => typeof c.content === "string" && c.content.length > 0);
    expect(textChunks.length).toBeGreaterThanOrEqual(3);
    const full = chunks.reduce((a, b) => a.concat(b));
    expect(full.content).toBe("The quick brown fox jumps over the lazy dog.");
    expect(full.usage_metadata?.output_tokens).toBe(11);
    expect(server.requests[0]).toMatchObject({ stream: true, body: { stream_options: { include_usage: true } } });
  });

  it("serves withStructuredOutput in its default json_schema mode", async () => {
    const server = await openai();
    const out = await chatOpenAI(server)
      .withStructuredOutput(Pair, { name: "pair", includeRaw: true })
      .invoke("make one");
    expect(out.parsed).toEqual(PAIR);
    expect((out.raw as AIMessage).usage_metadata?.total_tokens).toBeGreaterThan(0);
    expect(server.requests[0]).toMatchObject({ mode: "json_schema", schemaName: "pair" });
    expect(server.requests[0]!.schema).toMatchObject({
      type: "object",
      properties: { instruction: { type: "string" } },
    });
  });

  it("serves withStructuredOutput with functionCalling", async () => {
    const server = await openai();
    const out = await chatOpenAI(server)
      .withStructuredOutput(Pair, { method: "functionCalling", includeRaw: true })
      .invoke("make one");
    expect(out.parsed).toEqual(PAIR);
    const raw = out.raw as AIMessage;
    expect(raw.tool_calls?.[0]).toMatchObject({ name: "extract", args: PAIR });
    expect(raw.usage_metadata?.total_tokens).toBeGreaterThan(0);
    expect(server.requests[0]).toMatchObject({ mode: "tools", toolName: "extract", toolForced: true });
  });

  it("serves withStructuredOutput with jsonMode", async () => {
    const server = await openai();
    const out = await chatOpenAI(server)
      .withStructuredOutput(Pair, { method: "jsonMode", includeRaw: true })
      .invoke("make one, as JSON");
    expect(out.parsed).toEqual(PAIR);
    expect((out.raw as AIMessage).usage_metadata?.output_tokens).toBeGreaterThan(0);
    expect(server.requests[0]).toMatchObject({ mode: "json_object" });
  });

  it("streams tool-call argument deltas", async () => {
    const server = await openai();
    const model = chatOpenAI(server).bindTools([{ name: "record", description: "Record a pair", schema: Pair }], {
      tool_choice: "record",
    });
    const chunks: AIMessageChunk[] = [];
    for await (const c of await model.stream("go")) chunks.push(c);
    expect(chunks.filter((c) => (c.tool_call_chunks?.length ?? 0) > 0).length).toBeGreaterThanOrEqual(3);
    const full = chunks.reduce((a, b) => a.concat(b));
    expect(full.tool_calls?.[0]).toMatchObject({ name: "record", args: PAIR });
    expect(full.usage_metadata?.total_tokens).toBeGreaterThan(0);
  });

  it("fails structured output on an injected malformed-json reply", async () => {
    const server = await openai({ fault: () => "malformed-json" });
    const structured = chatOpenAI(server, { maxRetries: 0 }).withStructuredOutput(Pair);
    await expect(structured.invoke("x")).rejects.toThrow(/JSON/);
    const fc = chatOpenAI(server, { maxRetries: 0 }).withStructuredOutput(Pair, { method: "functionCalling" });
    await expect(fc.invoke("x")).rejects.toThrow(/JSON|parse/i);
    expect(server.counters.faults["malformed-json"]).toBe(2);
  });

  it("surfaces a 429 to ChatOpenAI with maxRetries 0", async () => {
    const server = await openai({ fault: () => "429" });
    await expect(chatOpenAI(server, { maxRetries: 0 }).invoke("x")).rejects.toMatchObject({ status: 429 });
    expect(server.counters.faults["429"]).toBe(1);
  });

  it("lists models and accepts the path without /v1", async () => {
    const server = await openai({ models: ["a", "b"] });
    const list = (await (await fetch(`${server.url}/models`)).json()) as { data: Array<{ id: string }> };
    expect(list.data.map((m) => m.id)).toEqual(["a", "b"]);
    const base = server.url.replace(/\/v1$/, "");
    const res = await post(`${base}/chat/completions`, chatBody());
    expect(res.status).toBe(200);
    const json = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(json.choices[0]?.message.content).toBe("echo: hi");
  });
});

describe("OpenAI server faults, latency, concurrency", () => {
  it("answers 429 with Retry-After and OpenAI-style error JSON; 500 and 503 too", async () => {
    const kinds: FaultKind[] = ["429", "500", "503"];
    const server = await openai({ fault: (_r, i) => kinds[i], retryAfterSeconds: 7 });
    const r429 = await post(`${server.url}/chat/completions`, chatBody());
    expect(r429.status).toBe(429);
    expect(r429.headers.get("retry-after")).toBe("7");
    expect(await r429.json()).toMatchObject({ error: { code: "rate_limit_exceeded", message: expect.any(String) } });
    expect((await post(`${server.url}/chat/completions`, chatBody())).status).toBe(500);
    expect((await post(`${server.url}/chat/completions`, chatBody())).status).toBe(503);
    expect(server.counters.faults).toMatchObject({ "429": 1, "500": 1, "503": 1 });
    expect(server.counters.completed).toBe(0);
  });

  it.each(["400", "401", "403", "404", "422"] as const)(
    "answers an injected %s with OpenAI's error body; ChatOpenAI surfaces the status",
    async (kind) => {
      const server = await openai({ fault: () => kind });
      const res = await post(`${server.url}/chat/completions`, chatBody());
      expect(res.status).toBe(Number(kind));
      expect(await res.json()).toMatchObject({
        error: { type: "invalid_request_error", message: expect.stringContaining("injected fault") },
      });
      // (LangChain's own retries would repeat a 422; codeclm turns client retries off and applies README's policy.)
      const error = (await chatOpenAI(server, { maxRetries: 0 })
        .invoke("x")
        .catch((e: unknown) => e)) as { status?: number };
      expect(error).toBeInstanceOf(Error);
      expect(error.status).toBe(Number(kind));
      expect(server.counters.faults[kind]).toBe(2);
      expect(server.counters.completed).toBe(0);
    },
  );

  it("cuts a stream short but ends it cleanly; cuts a plain reply's JSON body", async () => {
    const server = await openai({
      fault: () => "truncated-stream",
      respond: () => ({ text: "one two three four five six seven eight" }),
    });
    const res = await post(`${server.url}/chat/completions`, chatBody({ stream: true }));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain("data: ");
    expect(text).not.toContain("[DONE]");
    expect(text).not.toContain('"finish_reason":"stop"');
    const plain = await post(`${server.url}/chat/completions`, chatBody());
    expect(plain.status).toBe(200);
    await expect(plain.json()).rejects.toThrow(/JSON/);
    expect(server.counters.faults["truncated-stream"]).toBe(2);
  });

  it("drops the socket (network error) and hangs until aborted; close() does not wait for hangs", async () => {
    const server = await openai({ fault: (_r, i) => (i === 0 ? "drop" : "hang") });
    await expect(post(`${server.url}/chat/completions`, chatBody())).rejects.toThrow(/fetch failed/);

    const started = Date.now();
    await expect(
      post(`${server.url}/chat/completions`, chatBody(), { signal: AbortSignal.timeout(150) }),
    ).rejects.toMatchObject({ name: "TimeoutError" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);

    const pending = post(`${server.url}/chat/completions`, chatBody()).catch((e: unknown) => e);
    await waitUntil(() => server.counters.requests === 3);
    // close() does not wait for the hanging request: it resolves while the request would hang forever.
    await server.close();
    expect(await pending).toBeInstanceOf(Error);
    expect(server.counters.faults).toMatchObject({ drop: 1, hang: 2 });
  });

  it("drops a stream after its first event", async () => {
    const server = await openai({ fault: () => "drop" });
    const chunks: unknown[] = [];
    await expect(
      (async () => {
        for await (const c of await chatOpenAI(server, { maxRetries: 0 }).stream("x")) chunks.push(c);
      })(),
    ).rejects.toThrow(/terminated/);
  });

  it("respects latency: never answers before the injected delay", async () => {
    // A lower bound only: load can add time, never remove it.
    const server = await openai({ latencyMs: { mean: 120, jitter: 20 } });
    const t0 = Date.now();
    await post(`${server.url}/chat/completions`, chatBody());
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
  });

  it("selects faults reproducibly from the seed", async () => {
    const run = async (seed: number): Promise<number[]> => {
      const server = await openai({ seed, faults: { rate: 0.5, kinds: ["500", "503"] } });
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) statuses.push((await post(`${server.url}/chat/completions`, chatBody())).status);
      const injected = server.counters.faults["500"] + server.counters.faults["503"];
      expect(statuses.filter((s) => s !== 200).length).toBe(injected);
      return statuses;
    };
    const a = await run(42);
    expect(await run(42)).toEqual(a);
    expect(a.some((s) => s === 200) && a.some((s) => s !== 200)).toBe(true);
  });

  it("handles hundreds of concurrent requests", async () => {
    const server = await openai({ recordRequests: false });
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        post(`${server.url}/chat/completions`, chatBody({ messages: [{ role: "user", content: `n${i}` }] })).then(
          async (r) =>
            ((await r.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content,
        ),
      ),
    );
    expect(results[399]).toBe("echo: n399");
    expect(server.counters.completed).toBe(400);
    expect(server.requests).toHaveLength(0);

    const model = chatOpenAI(server);
    const answers = await model.batch(
      Array.from({ length: 128 }, (_, i) => `q${i}`),
      { maxConcurrency: 128 },
    );
    expect(answers.map((a) => a.content)).toContain("echo: q127");

    // With some latency the requests really overlap: counted by the server, not timed.
    const slow = await openai({ latencyMs: { mean: 500 }, recordRequests: false });
    await Promise.all(Array.from({ length: 200 }, () => post(`${slow.url}/chat/completions`, chatBody())));
    expect(slow.counters.maxInFlight).toBeGreaterThan(100);
    expect(slow.counters.completed).toBe(200);
  });

  it("turns a throwing responder into a 500", async () => {
    const server = await openai({
      respond: () => {
        throw new Error("boom");
      },
    });
    const res = await post(`${server.url}/chat/completions`, chatBody());
    expect(res.status).toBe(500);
    expect(server.counters.responderErrors).toBe(1);
  });
});

describe("Gemini server with the real ChatGoogleGenerativeAI", () => {
  it("answers a plain invoke with usage metadata and records the key's last 4 chars", async () => {
    const server = await gemini();
    const msg = await chatGemini(server).invoke([new SystemMessage("be brief"), new HumanMessage("hello")]);
    expect(msg.content).toBe("echo: hello");
    expect(msg.usage_metadata).toMatchObject({ output_tokens: 3 });
    expect(msg.usage_metadata!.input_tokens).toBeGreaterThan(0);
    expect(server.requests[0]).toMatchObject({
      path: "/v1beta/models/gemini-2.5-flash:generateContent",
      apiVersion: "v1beta",
      model: "gemini-2.5-flash",
      mode: "text",
      stream: false,
      temperature: 0.2,
      maxOutputTokens: 128,
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hello" },
      ],
      auth: { present: true, last4: "wxyz" },
    });
    expect(server.requests[0]!.headers["x-goog-api-key"]).toBeUndefined();
  });

  it("streams through .stream() with usage on the last chunk", async () => {
    const server = await gemini({ respond: () => "The quick brown fox jumps over the lazy dog." });
    const chunks: AIMessageChunk[] = [];
    for await (const c of await chatGemini(server).stream("go")) chunks.push(c);
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    const full = chunks.reduce((a, b) => a.concat(b));
    expect(full.content).toBe("The quick brown fox jumps over the lazy dog.");
    expect(full.usage_metadata?.output_tokens).toBe(11);
    expect(server.requests[0]).toMatchObject({ stream: true, path: expect.stringContaining(":streamGenerateContent") });
  });

  it("serves withStructuredOutput via responseSchema (default)", async () => {
    const server = await gemini();
    const out = await chatGemini(server).withStructuredOutput(Pair, { includeRaw: true }).invoke("make one");
    expect(out.parsed).toEqual(PAIR);
    expect((out.raw as AIMessage).usage_metadata?.total_tokens).toBeGreaterThan(0);
    expect(server.requests[0]).toMatchObject({ mode: "json_schema", responseMimeType: "application/json" });
    expect(server.requests[0]!.schema).toMatchObject({ properties: { instruction: {} } });
  });

  it("serves withStructuredOutput via functionCalling", async () => {
    const server = await gemini();
    const out = await chatGemini(server)
      .withStructuredOutput(Pair, { method: "functionCalling", name: "pair", includeRaw: true })
      .invoke("make one");
    expect(out.parsed).toEqual(PAIR);
    expect((out.raw as AIMessage).tool_calls?.[0]).toMatchObject({ name: "pair", args: PAIR });
    expect((out.raw as AIMessage).usage_metadata?.total_tokens).toBeGreaterThan(0);
    expect(server.requests[0]).toMatchObject({ mode: "tools", toolName: "pair", toolForced: true });
  });

  it("rejects jsonMode client-side (ChatGoogleGenerativeAI has no such method)", async () => {
    const server = await gemini();
    expect(() => chatGemini(server).withStructuredOutput(Pair, { method: "jsonMode" })).toThrow(/jsonSchema/);
  });

  it("injects faults: 429 to the client, malformed JSON, drop", async () => {
    const kinds: FaultKind[] = ["429", "malformed-json", "malformed-json", "drop"];
    const server = await gemini({ fault: (_r, i) => kinds[i] });
    const model = chatGemini(server, { maxRetries: 0 });
    await expect(model.invoke("x")).rejects.toThrow(/429/);
    await expect(model.withStructuredOutput(Pair).invoke("x")).rejects.toThrow(/Failed to parse/);
    await expect(model.withStructuredOutput(Pair, { method: "functionCalling" }).invoke("x")).rejects.toThrow(/JSON/);
    await expect(model.invoke("x")).rejects.toThrow(/fetch failed/);
    expect(server.counters.faults).toMatchObject({ "429": 1, "malformed-json": 2, drop: 1 });

    const raw = await post(
      `${server.url}/v1beta/models/gemini-2.5-flash:generateContent?key=abc12345`,
      JSON.stringify({ contents: [] }),
    );
    expect(raw.status).toBe(200);
    expect(server.requests[4]!.auth).toEqual({ present: true, last4: "2345" });
  });

  it("answers 429 with Retry-After and Google-style error JSON", async () => {
    const server = await gemini({ fault: () => "429", retryAfterSeconds: 3 });
    const res = await post(
      `${server.url}/v1beta/models/gemini-2.5-flash:generateContent`,
      JSON.stringify({ contents: [] }),
    );
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("3");
    expect(await res.json()).toMatchObject({ error: { code: 429, status: "RESOURCE_EXHAUSTED" } });
  });
});
