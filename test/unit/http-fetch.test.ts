import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RoleSettings } from "../../lib/config.js";
import { ModelFactory } from "../../models/factory.js";
import { leanFetch } from "../../models/http.js";

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

const seen: Seen[] = [];
let release: () => void = () => {};
let server: Server;
let base = "";

const completion = {
  id: "c1",
  object: "chat.completion",
  created: 0,
  model: "m",
  choices: [{ index: 0, message: { role: "assistant", content: "hello back" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
};

function route(request: IncomingMessage, response: ServerResponse, body: string): void {
  seen.push({ method: request.method ?? "", path: request.url ?? "", headers: request.headers, body });
  switch (request.url) {
    case "/json":
      response.setHeader("set-cookie", ["a=1", "b=2"]);
      response.setHeader("x-request-id", "r-1");
      response.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ echo: body }));
      return;
    case "/gzip":
      response
        .writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" })
        .end(gzipSync(JSON.stringify({ zipped: true })));
      return;
    case "/empty":
      response.writeHead(204).end();
      return;
    case "/slow":
      setTimeout(() => response.writeHead(200).end("late"), 5_000).unref();
      return;
    case "/drop":
      request.socket.destroy();
      return;
    case "/events":
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write("data: 1\n\n");
      // The second event waits for the test: a reply read whole would never show the first.
      void new Promise<void>((resolve) => (release = resolve)).then(() => response.end("data: 2\n\n"));
      return;
    case "/v1/chat/completions":
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(completion));
      return;
    default:
      response.writeHead(404).end("{}");
  }
}

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => route(request, response, body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const last = () => seen[seen.length - 1]!;
// Node's fetch marks every request it sends; undici's request does not.
const viaNodeFetch = (request: Seen) => request.headers["sec-fetch-mode"] !== undefined;

describe("leanFetch", () => {
  it("sends the method, headers and body, and returns status, headers and body as a Response", async () => {
    const response = await leanFetch(`${base}/json`, {
      method: "POST",
      headers: { authorization: "Bearer k", "content-type": "application/json" },
      body: '{"q":1}',
    });
    expect(last()).toMatchObject({ method: "POST", path: "/json", body: '{"q":1}' });
    expect(last().headers.authorization).toBe("Bearer k");
    expect(viaNodeFetch(last())).toBe(false);
    expect(response.status).toBe(201);
    expect(response.ok).toBe(true);
    expect(response.headers.get("x-request-id")).toBe("r-1");
    expect(response.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await response.json()).toEqual({ echo: '{"q":1}' });
  });

  it("decodes a compressed reply, as Node's fetch does", async () => {
    const response = await leanFetch(`${base}/gzip`);
    expect(response.headers.get("content-encoding")).toBeNull();
    expect(await response.json()).toEqual({ zipped: true });
  });

  it("gives a reply with no body a null body", async () => {
    const response = await leanFetch(`${base}/empty`, { method: "DELETE" });
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
  });

  it("rejects with an AbortError when the signal aborts, and on a dropped connection", async () => {
    const controller = new AbortController();
    const pending = leanFetch(`${base}/slow`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    await expect(leanFetch(`${base}/drop`, { method: "POST", body: "x" })).rejects.toThrow();
  });

  it("passes an event stream through as it arrives", async () => {
    const within = <T>(pending: Promise<T>) =>
      Promise.race([
        pending,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the stream was held back")), 2_000)),
      ]);
    const response = await within(leanFetch(`${base}/events`));
    const reader = response.body!.getReader();
    const first = await within(reader.read());
    expect(new TextDecoder().decode(first.value)).toBe("data: 1\n\n");
    release();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      rest += new TextDecoder().decode(chunk.value);
    expect(rest).toBe("data: 2\n\n");
  });

  it("leaves a form body to Node's fetch", async () => {
    const form = new FormData();
    form.set("purpose", "batch");
    const response = await leanFetch(`${base}/json`, { method: "POST", body: form });
    expect(response.status).toBe(201);
    expect(viaNodeFetch(last())).toBe(true);
    expect(last().body).toContain("batch");
  });
});

describe("the model factory's fetch", () => {
  const roles = (strong: RoleSettings) => ({ strong, target: strong, judge: strong });
  const ask = async (env: Record<string, string>) => {
    const factory = new ModelFactory(roles({ model: "openai:m", baseUrl: `${base}/v1` }), { env });
    await factory.load(["strong"]);
    const reply = await factory.get("strong", { temperature: 0, maxTokens: 10 }).invoke("hi");
    return { content: reply.content, request: last() };
  };

  it("is leanFetch for an OpenAI client; CODECLM_FETCH=global is Node's fetch", async () => {
    const lean = await ask({ OPENAI_API_KEY: "k" });
    expect(lean.content).toBe("hello back");
    expect(lean.request.path).toBe("/v1/chat/completions");
    expect(viaNodeFetch(lean.request)).toBe(false);
    const global = await ask({ OPENAI_API_KEY: "k", CODECLM_FETCH: "global" });
    expect(global.content).toBe("hello back");
    expect(viaNodeFetch(global.request)).toBe(true);
    const misspelt = () => new ModelFactory(roles({ model: "openai:m" }), { env: { CODECLM_FETCH: "node" } });
    expect(misspelt).toThrow(/CODECLM_FETCH="node": expected lean \(the default\) or global/);
  });
});
