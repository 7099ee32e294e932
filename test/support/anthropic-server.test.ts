import { ChatAnthropic } from "@langchain/anthropic";
import { type AIMessageChunk, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { classifyFault } from "../../lib/faults.js";
import { type AnthropicServerOptions, type FakeAnthropicServer, startAnthropicServer } from "./anthropic-server.js";

const KEY = "sk-ant-test-key-wxyz";
const Pair = z.object({ instruction: z.string(), response: z.string() });

let servers: FakeAnthropicServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
});

async function anthropic(options: Partial<AnthropicServerOptions> = {}): Promise<FakeAnthropicServer> {
  const server = await startAnthropicServer({
    respond: (request) => `echo: ${request.messages.at(-1)?.content ?? ""}`,
    ...options,
  });
  servers.push(server);
  return server;
}

const claude = (server: FakeAnthropicServer, extra: Record<string, unknown> = {}) =>
  new ChatAnthropic({
    model: "claude-sonnet-4-5",
    apiKey: KEY,
    anthropicApiUrl: server.url,
    temperature: 0.3,
    maxTokens: 64,
    maxRetries: 0,
    ...extra,
  });

describe("Anthropic Messages-API server with the real ChatAnthropic", () => {
  it("answers a plain invoke with usage, and records the request without the key", async () => {
    const server = await anthropic();
    const msg = await claude(server).invoke([new SystemMessage("be brief"), new HumanMessage("hello")]);
    expect(msg.content).toBe("echo: hello");
    expect(msg.usage_metadata).toMatchObject({ input_tokens: expect.any(Number), output_tokens: 3 });
    expect(msg.response_metadata).toMatchObject({ stop_reason: "end_turn" });
    const [req] = server.requests;
    expect(req).toMatchObject({
      path: "/v1/messages",
      model: "claude-sonnet-4-5",
      mode: "text",
      stream: false,
      temperature: 0.3,
      max_tokens: 64,
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hello" },
      ],
      auth: { present: true, last4: "wxyz" },
    });
    expect(req!.version).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(req!.headers["x-api-key"]).toBeUndefined();
    expect(JSON.stringify(req)).not.toContain(KEY);
  });

  it("streams text deltas with usage through .stream()", async () => {
    const server = await anthropic({ respond: () => "The quick brown fox jumps over the lazy dog." });
    const chunks: AIMessageChunk[] = [];
    for await (const chunk of await claude(server).stream("go")) chunks.push(chunk);
    const full = chunks.reduce((a, b) => a.concat(b));
    expect(full.content).toBe("The quick brown fox jumps over the lazy dog.");
    expect(chunks.filter((chunk) => typeof chunk.content === "string" && chunk.content !== "").length).toBeGreaterThan(
      2,
    );
    // message_start carries output_tokens 1, as the API's does; the client adds it to message_delta's total.
    expect(full.usage_metadata?.output_tokens).toBe(12);
    expect(full.usage_metadata?.input_tokens).toBeGreaterThan(0);
    expect(server.requests[0]!.stream).toBe(true);
  });

  it("answers structured output by a forced tool call (tool_use block), the client's default", async () => {
    const server = await anthropic({ respond: () => ({ json: { instruction: "i", response: "r" } }) });
    const structured = claude(server).withStructuredOutput(Pair, { name: "pair", includeRaw: true });
    const { parsed, raw } = await structured.invoke("make one");
    expect(parsed).toEqual({ instruction: "i", response: "r" });
    expect((raw as AIMessageChunk).usage_metadata?.output_tokens).toBeGreaterThan(0);
    const [req] = server.requests;
    expect(req).toMatchObject({ mode: "tools", toolName: "pair", toolChoice: "tool", toolForced: true });
    expect(req!.schema).toMatchObject({ type: "object", properties: { instruction: { type: "string" } } });
    expect(req!.body.tool_choice).toEqual({ type: "tool", name: "pair" });
  });

  it("streams tool_use input as input_json_delta events", async () => {
    const server = await anthropic({ respond: () => ({ json: { instruction: "a longer one", response: "b" } }) });
    const bound = claude(server).bindTools([{ name: "pair", description: "a pair", schema: Pair }], {
      tool_choice: { type: "tool", name: "pair" },
    });
    const chunks: AIMessageChunk[] = [];
    for await (const chunk of await bound.stream("go")) chunks.push(chunk);
    const full = chunks.reduce((a, b) => a.concat(b));
    expect(full.tool_calls?.[0]).toMatchObject({ name: "pair", args: { instruction: "a longer one", response: "b" } });
  });

  it("serves the jsonSchema method through output_config.format", async () => {
    const server = await anthropic({ respond: () => ({ json: { instruction: "x", response: "y" } }) });
    const parsed = await claude(server).withStructuredOutput(Pair, { method: "jsonSchema" }).invoke("go");
    expect(parsed).toEqual({ instruction: "x", response: "y" });
    expect(server.requests[0]).toMatchObject({ mode: "json_schema" });
  });

  it("fails structured output on a malformed tool_use reply", async () => {
    const server = await anthropic({
      respond: () => ({ json: { instruction: "i", response: "r" } }),
      fault: () => "malformed-json",
    });
    await expect(claude(server).withStructuredOutput(Pair).invoke("go")).rejects.toThrow();
  });
});

describe("Anthropic server errors", () => {
  it("answers 429 with retry-after and Anthropic's error body; the call path reads it as a rate limit", async () => {
    const server = await anthropic({ fault: () => "429", retryAfterSeconds: 7 });
    const response = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "m", max_tokens: 8, messages: [{ role: "user", content: "x" }] }),
    });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("7");
    expect(response.headers.get("request-id")).toMatch(/^req_/);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    const error = await claude(server)
      .invoke("x")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 429 });
    expect(classifyFault(error, 0)).toMatchObject({ kind: "rate-limit", status: 429, retryAfterMs: 7000 });
  });

  it("answers an overload with 529 overloaded_error, a bad key with 401, and both reach the client", async () => {
    const overloaded = await anthropic({ fault: () => "503" });
    const error = await claude(overloaded)
      .invoke("x")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 529 });
    expect(classifyFault(error, 0).kind).toBe("server");
    const denied = await anthropic({ fault: () => "401" });
    await expect(claude(denied).invoke("x")).rejects.toMatchObject({ status: 401 });
  });

  it("refuses requests without anthropic-version or max_tokens, like the API", async () => {
    const server = await anthropic();
    const post = (headers: Record<string, string>, body: unknown) =>
      fetch(`${server.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": KEY, ...headers },
        body: JSON.stringify(body),
      });
    const noVersion = await post({}, { model: "m", max_tokens: 8, messages: [{ role: "user", content: "x" }] });
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toMatchObject({ error: { type: "invalid_request_error" } });
    const noMax = await post({ "anthropic-version": "2023-06-01" }, { model: "m", messages: [] });
    expect(noMax.status).toBe(400);
    expect(server.counters.requests).toBe(0);
  });

  it("lists models and counts tokens", async () => {
    const server = await anthropic({ models: ["claude-haiku-4-5", "claude-sonnet-4-5"] });
    const list = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(list.data.map((model) => model.id)).toEqual(["claude-haiku-4-5", "claude-sonnet-4-5"]);
    const count = await fetch(`${server.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "twelve chars" }] }),
    });
    expect(await count.json()).toEqual({ input_tokens: 3 });
  });
});
