/**
 * In-process HTTP server speaking OpenAI's chat-completions protocol, for offline tests and benchmarks of the
 * real `ChatOpenAI` client. Also hosts the small protocol-neutral core (PRNG, latency, faults, lifecycle) that
 * `gemini-server.ts` reuses.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mulberry32 } from "../../lib/rng.js";
import { type BatchServerOptions, type BatchState, batchRoutes } from "./openai-batch.js";

// ---------------------------------------------------------------------------------------------------------------
// Shared types
// ---------------------------------------------------------------------------------------------------------------

/**
 * Injected faults. 4xx kinds are answered with that status and the provider's error body; "truncated-stream"
 * sends the head of a streamed reply and ends the response cleanly without the final events (`[DONE]`, finish
 * reason), as a proxy that cuts a stream does; on a non-streamed request it sends half the JSON body with a
 * matching Content-Length, so the client sees a body that does not parse.
 */
export type FaultKind =
  | "429"
  | "500"
  | "503"
  | "malformed-json"
  | "drop"
  | "hang"
  | "400"
  | "401"
  | "403"
  | "404"
  | "422"
  | "truncated-stream";
export const FAULT_KINDS: readonly FaultKind[] = ["429", "500", "503", "malformed-json", "drop", "hang"];
/** Client-error kinds: answered with the status, never retried by a client that follows README's 4xx policy. */
export const CLIENT_ERROR_KINDS = ["400", "401", "403", "404", "422"] as const;
export type ClientErrorKind = (typeof CLIENT_ERROR_KINDS)[number];
const isClientError = (kind: FaultKind | undefined): kind is ClientErrorKind =>
  kind !== undefined && (CLIENT_ERROR_KINDS as readonly string[]).includes(kind);

/** How the client asked for output: plain text, a JSON schema, any JSON object, or a (forced or offered) tool call. */
export type ChatMode = "text" | "json_schema" | "json_object" | "tools";

export interface ChatMessage {
  role: string;
  /** Text content; content parts are concatenated. */
  content: string;
}

/** Which credential was presented, without keeping it: only its last 4 characters. */
export interface AuthInfo {
  present: boolean;
  last4?: string;
}

/** Fields common to every provider's parsed request, so one responder can serve several servers. */
export interface BaseChatRequest {
  /** 0-based arrival order of chat requests on this server. */
  index: number;
  path: string;
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  stream: boolean;
  mode: ChatMode;
  /** Name of the requested JSON schema (OpenAI `json_schema.name`, Gemini schema `title`), when present. */
  schemaName?: string;
  /** The JSON schema the client sent (json_schema mode) or the forced tool's parameters (tools mode). */
  schema?: unknown;
  /** Tool the reply will call in tools mode (the forced one, else the first offered). */
  toolName?: string;
  /** Request headers, lower-cased, credentials removed. */
  headers: Record<string, string>;
  auth: AuthInfo;
  body: Record<string, unknown>;
}

export interface ChatRequest extends BaseChatRequest {
  max_tokens?: number;
  max_completion_tokens?: number;
  /** True when `tool_choice` forces a call (`"required"` or a named function). */
  toolForced: boolean;
}

export interface ReplyUsage {
  inputTokens?: number;
  outputTokens?: number;
}

interface ReplyOptions {
  /** Overrides the estimated token usage (~chars/4). */
  usage?: ReplyUsage;
  /** Overrides the finish reason (OpenAI: "stop" | "length" | ...; Gemini: "STOP" | "MAX_TOKENS" | ...). */
  finishReason?: string;
  /** Overrides the function name in tools mode. */
  toolName?: string;
}
export interface TextReply extends ReplyOptions {
  text: string;
}
export interface JsonReply extends ReplyOptions {
  json: unknown;
}
/** A plain string is shorthand for `{ text }`. Objects to send as JSON must be wrapped in `{ json }`. */
export type Reply = string | TextReply | JsonReply;

export type Responder<Req> = (request: Req) => Reply | Promise<Reply>;

export interface LatencyOptions {
  mean: number;
  /** Uniform ± jitter around the mean (clamped at 0). */
  jitter?: number;
}

export interface FaultOptions {
  /** Probability in [0, 1] that a chat request gets a fault. */
  rate: number;
  kinds: FaultKind[];
}

export interface FakeServerOptions<Req> {
  respond: Responder<Req>;
  latencyMs?: LatencyOptions;
  /** Seeds the latency and fault PRNGs (separate streams). Default 1. */
  seed?: number;
  faults?: FaultOptions;
  /** Exact control; wins over `faults` when it returns a kind. */
  fault?: (request: Req, index: number) => FaultKind | undefined;
  /** `Retry-After` seconds sent with 429. Default 1. */
  retryAfterSeconds?: number;
  /** Keep every parsed request in `requests`. Default true; turn off for long benchmarks. */
  recordRequests?: boolean;
  /** Number of content deltas a streamed reply is split into. Default 4. */
  streamChunks?: number;
  /** Routes answered before the protocol's own (the Batch API's files and batches): true when handled. */
  routes?: (req: IncomingMessage, res: ServerResponse, method: string, path: string) => Promise<boolean>;
}

export interface ServerCounters {
  /** Chat requests received (parsed). */
  requests: number;
  /** Chat requests answered with a normal 200 reply (including malformed-json). */
  completed: number;
  inFlight: number;
  maxInFlight: number;
  /** Responder threw: answered 500. */
  responderErrors: number;
  faults: Record<FaultKind, number>;
}

export interface FakeServer<Req> {
  /** Base URL to hand to the client. */
  readonly url: string;
  readonly port: number;
  readonly requests: Req[];
  readonly counters: ServerCounters;
  /** Clears `requests` and counters (not the PRNGs). */
  reset(): void;
  /** Destroys every open socket (hanging requests included) and stops listening. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers (exported for gemini-server.ts)
// ---------------------------------------------------------------------------------------------------------------

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
export function asNumber(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function estimateTokens(chars: number): number {
  return Math.max(1, Math.ceil(chars / 4));
}

export function countChars(messages: readonly ChatMessage[]): number {
  let n = 0;
  for (const m of messages) n += m.content.length;
  return n;
}

export function authFromKey(key: string | undefined): AuthInfo {
  if (key === undefined || key === "") return { present: false };
  return { present: true, last4: key.slice(-4) };
}

const SECRET_HEADERS = new Set(["authorization", "x-goog-api-key", "api-key", "proxy-authorization"]);

export function publicHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  const h = req.headers;
  for (const name in h) {
    if (SECRET_HEADERS.has(name)) continue;
    const v = h[name];
    if (v !== undefined) out[name] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

/** Splits text into about `parts` pieces without breaking surrogate pairs. Empty text gives one empty piece. */
export function splitText(text: string, parts: number): string[] {
  if (text.length === 0) return [""];
  const size = Math.max(1, Math.ceil(text.length / Math.max(1, parts)));
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    let end = Math.min(text.length, i + size);
    const code = text.charCodeAt(end - 1);
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end += 1;
    out.push(text.slice(i, end));
    i = end;
  }
  return out;
}

/** Cuts a JSON (or any) payload so that it no longer parses. */
export function truncatePayload(payload: string): string {
  let cut = payload.slice(0, Math.floor(payload.length / 2));
  try {
    JSON.parse(cut);
    cut += ",";
  } catch {
    // already invalid
  }
  return cut;
}

export interface NormalizedReply extends ReplyOptions {
  kind: "text" | "json";
  /** The text, or the JSON serialisation. */
  payload: string;
  /** Present for json replies. */
  value?: unknown;
}

export function normalizeReply(reply: Reply): NormalizedReply {
  if (typeof reply === "string") return { kind: "text", payload: reply };
  const { usage, finishReason, toolName } = reply;
  const base: NormalizedReply =
    "text" in reply
      ? { kind: "text", payload: reply.text }
      : { kind: "json", payload: JSON.stringify(reply.json) ?? "null", value: reply.json };
  if (usage !== undefined) base.usage = usage;
  if (finishReason !== undefined) base.finishReason = finishReason;
  if (toolName !== undefined) base.toolName = toolName;
  return base;
}

export function usageFor(req: BaseChatRequest, reply: NormalizedReply): { input: number; output: number } {
  return {
    input: reply.usage?.inputTokens ?? estimateTokens(countChars(req.messages)),
    output: reply.usage?.outputTokens ?? estimateTokens(reply.payload.length),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Protocol-neutral core
// ---------------------------------------------------------------------------------------------------------------

export interface Encoded {
  status: number;
  headers: Record<string, string | number>;
  /** Body pieces; for SSE, one piece per event (a "drop" on a stream sends only the first). */
  chunks: string[];
  sse: boolean;
}

export interface ChatRoute {
  stream: boolean;
  /** Protocol-specific route data (e.g. the Gemini model from the path). */
  model?: string;
}

export interface ParseContext {
  route: ChatRoute;
  body: JsonObject;
  req: IncomingMessage;
  path: string;
  query: string;
  index: number;
}

export interface ProtocolAdapter<Req extends BaseChatRequest> {
  /** Answers non-chat GETs/POSTs (model lists, countTokens) or returns undefined. */
  staticRoute(method: string, path: string, body: () => Promise<unknown>): Promise<Encoded | undefined> | undefined;
  /** Recognises a chat route. */
  chatRoute(method: string, path: string, query: string): ChatRoute | undefined;
  parse(ctx: ParseContext): Req;
  encodeReply(req: Req, reply: NormalizedReply, malformed: boolean, streamChunks: number, seq: number): Encoded;
  encodeError(kind: "429" | "500" | "503" | ClientErrorKind, message: string, retryAfterSeconds: number): Encoded;
}

export function jsonResponse(status: number, value: unknown, extraHeaders?: Record<string, string>): Encoded {
  const body = JSON.stringify(value);
  return {
    status,
    headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...extraHeaders },
    chunks: [body],
    sse: false,
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")),
    );
    req.on("error", reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const CLIENT_ERROR_MESSAGES: Record<ClientErrorKind, string> = {
  "400": "Invalid request: 'messages' is malformed (injected fault).",
  "401": "Incorrect API key provided (injected fault).",
  "403": "You do not have access to this model (injected fault).",
  "404": "The model does not exist or you do not have access to it (injected fault).",
  "422": "Unprocessable entity: the request could not be processed (injected fault).",
};

/** A reply cut short but ended cleanly: the first half of the SSE events, or half a JSON body. */
function sendTruncated(res: ServerResponse, enc: Encoded): void {
  if (res.destroyed) return;
  if (enc.sse) {
    const kept = enc.chunks.slice(0, Math.max(1, Math.floor(enc.chunks.length / 2)));
    res.writeHead(enc.status, enc.headers);
    res.end(kept.join(""));
    return;
  }
  const body = truncatePayload(enc.chunks.join(""));
  res.writeHead(enc.status, { ...enc.headers, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

export async function startFakeServer<Req extends BaseChatRequest>(
  adapter: ProtocolAdapter<Req>,
  options: FakeServerOptions<Req>,
  urlSuffix: string,
): Promise<FakeServer<Req>> {
  const seed = options.seed ?? 1;
  const latencyRng = mulberry32(seed);
  const faultRng = mulberry32(seed ^ 0x9e3779b9);
  const mean = options.latencyMs?.mean ?? 0;
  const jitter = options.latencyMs?.jitter ?? 0;
  const record = options.recordRequests ?? true;
  const retryAfter = options.retryAfterSeconds ?? 1;
  const streamChunks = options.streamChunks ?? 4;
  const faultRate = options.faults?.rate ?? 0;
  const faultKinds = options.faults?.kinds ?? [];

  const requests: Req[] = [];
  const freshFaults = (): Record<FaultKind, number> => ({
    "429": 0,
    "500": 0,
    "503": 0,
    "malformed-json": 0,
    drop: 0,
    hang: 0,
    "400": 0,
    "401": 0,
    "403": 0,
    "404": 0,
    "422": 0,
    "truncated-stream": 0,
  });
  const counters: ServerCounters = {
    requests: 0,
    completed: 0,
    inFlight: 0,
    maxInFlight: 0,
    responderErrors: 0,
    faults: freshFaults(),
  };
  let seq = 0;
  let closed = false;

  const pickFault = (req: Req): FaultKind | undefined => {
    const chosen = options.fault?.(req, req.index);
    if (chosen !== undefined) return chosen;
    if (faultRate <= 0 || faultKinds.length === 0) return undefined;
    if (faultRng() >= faultRate) return undefined;
    return faultKinds[Math.floor(faultRng() * faultKinds.length)];
  };

  const nextDelay = (): number => {
    if (mean <= 0 && jitter <= 0) return 0;
    return Math.max(0, mean + (latencyRng() * 2 - 1) * jitter);
  };

  const send = (res: ServerResponse, enc: Encoded, dropAfterFirst = false): void => {
    if (res.destroyed) return;
    if (enc.sse && dropAfterFirst) {
      res.writeHead(enc.status, enc.headers);
      res.write(enc.chunks[0] ?? "", () => res.socket?.destroy());
      return;
    }
    res.writeHead(enc.status, enc.headers);
    res.end(enc.chunks.length === 1 ? enc.chunks[0] : enc.chunks.join(""));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawUrl = req.url ?? "/";
    const q = rawUrl.indexOf("?");
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = q < 0 ? "" : rawUrl.slice(q + 1);
    const method = req.method ?? "GET";
    if (options.routes && (await options.routes(req, res, method, path))) return;

    const route = adapter.chatRoute(method, path, query);
    if (route === undefined) {
      let bodyText: Promise<string> | undefined;
      const lazyBody = async (): Promise<unknown> => {
        bodyText ??= readBody(req);
        const t = await bodyText;
        return t === "" ? {} : (JSON.parse(t) as unknown);
      };
      const enc = await adapter.staticRoute(method, path, lazyBody);
      send(res, enc ?? adapter.encodeError("404", `No route for ${method} ${path}`, retryAfter));
      return;
    }

    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      send(res, adapter.encodeError("400", "Request body is not valid JSON", retryAfter));
      return;
    }
    if (!isObject(body)) {
      send(res, adapter.encodeError("400", "Request body must be a JSON object", retryAfter));
      return;
    }
    let parsed: Req;
    const index = seq++;
    try {
      parsed = adapter.parse({ route, body, req, path, query, index });
    } catch (e) {
      send(res, adapter.encodeError("400", e instanceof Error ? e.message : String(e), retryAfter));
      return;
    }
    counters.requests++;
    if (record) requests.push(parsed);

    counters.inFlight++;
    if (counters.inFlight > counters.maxInFlight) counters.maxInFlight = counters.inFlight;
    res.once("close", () => {
      counters.inFlight--;
    });

    const fault = pickFault(parsed);
    if (fault !== undefined) counters.faults[fault]++;
    if (fault === "hang") return; // close() or the client's abort ends it

    const delay = nextDelay();
    if (delay > 0) await sleep(delay);
    if (closed || res.destroyed) return;

    if (fault === "drop" && !parsed.stream) {
      req.socket.destroy();
      return;
    }
    if (fault === "429" || fault === "500" || fault === "503") {
      const msg =
        fault === "429"
          ? "Rate limit reached (injected fault)."
          : fault === "500"
            ? "The server had an error while processing your request (injected fault)."
            : "The server is overloaded or not ready yet (injected fault).";
      send(res, adapter.encodeError(fault, msg, retryAfter));
      return;
    }
    if (isClientError(fault)) {
      send(res, adapter.encodeError(fault, CLIENT_ERROR_MESSAGES[fault], retryAfter));
      return;
    }

    let reply: NormalizedReply;
    try {
      reply = normalizeReply(await options.respond(parsed));
    } catch (e) {
      counters.responderErrors++;
      send(
        res,
        adapter.encodeError("500", `Responder threw: ${e instanceof Error ? e.message : String(e)}`, retryAfter),
      );
      return;
    }
    if (closed || res.destroyed) return;
    const enc = adapter.encodeReply(parsed, reply, fault === "malformed-json", streamChunks, index);
    if (fault === "truncated-stream") {
      sendTruncated(res, enc);
      return;
    }
    send(res, enc, fault === "drop");
    if (fault !== "drop") counters.completed++;
  };

  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        send(res, adapter.encodeError("500", e instanceof Error ? e.message : String(e), retryAfter));
      } else {
        res.destroy();
      }
    });
  });
  // Hanging requests must not be cut by Node's own timeouts; close() destroys them.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", 1024, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}${urlSuffix}`,
    port,
    requests,
    counters,
    reset() {
      requests.length = 0;
      counters.requests = 0;
      counters.completed = 0;
      counters.responderErrors = 0;
      counters.maxInFlight = counters.inFlight;
      counters.faults = freshFaults();
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// OpenAI chat completions
// ---------------------------------------------------------------------------------------------------------------

export interface OpenAIServerOptions extends FakeServerOptions<ChatRequest> {
  /** Ids listed by `GET /v1/models`. Default `["gpt-4o-mini"]`. */
  models?: string[];
  /** Also speak OpenAI's Batch API (`/v1/files`, `/v1/batches`; see openai-batch.ts). */
  batch?: BatchServerOptions;
}

export type FakeOpenAIServer = FakeServer<ChatRequest> & {
  /** The Batch API's state (files, batches, counts), when the server was started with `batch`. */
  batch?: BatchState;
};

function openAIText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let out = "";
  for (const part of content) {
    if (typeof part === "string") out += part;
    else if (isObject(part) && typeof part.text === "string") out += part.text;
  }
  return out;
}

export function parseOpenAI(body: JsonObject, req: IncomingMessage, path: string, index: number): ChatRequest {
  const rawMessages = body.messages;
  if (!Array.isArray(rawMessages)) throw new Error("`messages` must be an array");
  const messages: ChatMessage[] = rawMessages.map((m) =>
    isObject(m) ? { role: asString(m.role) ?? "user", content: openAIText(m.content) } : { role: "user", content: "" },
  );

  let mode: ChatMode = "text";
  let schemaName: string | undefined;
  let schema: unknown;
  let toolName: string | undefined;
  let toolForced = false;

  const tools = Array.isArray(body.tools) ? body.tools : [];
  const choice = body.tool_choice;
  if (tools.length > 0 && choice !== "none") {
    mode = "tools";
    let forcedName: string | undefined;
    if (isObject(choice) && isObject(choice.function)) forcedName = asString(choice.function.name);
    toolForced = forcedName !== undefined || choice === "required";
    const fns = tools.map((t) => (isObject(t) && isObject(t.function) ? t.function : {}));
    const picked = fns.find((f) => forcedName !== undefined && f.name === forcedName) ?? fns[0];
    toolName = forcedName ?? asString(picked?.name);
    schema = picked?.parameters;
  } else if (isObject(body.response_format)) {
    const rf = body.response_format;
    if (rf.type === "json_schema") {
      mode = "json_schema";
      if (isObject(rf.json_schema)) {
        schemaName = asString(rf.json_schema.name);
        schema = rf.json_schema.schema;
      }
    } else if (rf.type === "json_object") {
      mode = "json_object";
    }
  }

  const auth = req.headers.authorization ?? req.headers["api-key"];
  const key = typeof auth === "string" ? auth.replace(/^Bearer\s+/i, "") : undefined;

  const out: ChatRequest = {
    index,
    path,
    model: asString(body.model) ?? "",
    messages,
    stream: body.stream === true,
    mode,
    toolForced,
    headers: publicHeaders(req),
    auth: authFromKey(key),
    body,
  };
  const temperature = asNumber(body.temperature);
  if (temperature !== undefined) out.temperature = temperature;
  const maxTokens = asNumber(body.max_tokens);
  if (maxTokens !== undefined) out.max_tokens = maxTokens;
  const maxCompletion = asNumber(body.max_completion_tokens);
  if (maxCompletion !== undefined) out.max_completion_tokens = maxCompletion;
  if (schemaName !== undefined) out.schemaName = schemaName;
  if (schema !== undefined) out.schema = schema;
  if (toolName !== undefined) out.toolName = toolName;
  return out;
}

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };

export function encodeOpenAI(
  req: ChatRequest,
  reply: NormalizedReply,
  malformed: boolean,
  streamChunks: number,
  seq: number,
): Encoded {
  const id = `chatcmpl-fake${seq}`;
  const created = Math.floor(Date.now() / 1000);
  const model = req.model || "fake-model";
  // A text reply to an unforced tool offer is a plain answer; otherwise tools mode yields a tool call.
  const asTool = req.mode === "tools" && (req.toolForced || reply.kind === "json");
  const payload = malformed ? truncatePayload(reply.payload) : reply.payload;
  const toolName = reply.toolName ?? req.toolName ?? "tool";
  const finish = reply.finishReason ?? (asTool ? "tool_calls" : "stop");
  const u = usageFor(req, reply);
  const usage = { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output };
  const callId = `call_fake${seq}`;

  if (!req.stream) {
    const message = asTool
      ? {
          role: "assistant",
          content: null,
          refusal: null,
          tool_calls: [{ id: callId, type: "function", function: { name: toolName, arguments: payload } }],
        }
      : { role: "assistant", content: payload, refusal: null };
    return jsonResponse(200, {
      id,
      object: "chat.completion",
      created,
      model,
      system_fingerprint: "fp_fake",
      choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
      usage,
    });
  }

  const head = `{"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"system_fingerprint":"fp_fake","choices":`;
  const event = (choices: unknown, extra = ""): string => `data: ${head}${JSON.stringify(choices)}${extra}}\n\n`;
  const chunks: string[] = [];
  const pieces = splitText(payload, streamChunks);
  if (asTool) {
    chunks.push(
      event([
        {
          index: 0,
          delta: {
            role: "assistant",
            content: null,
            tool_calls: [{ index: 0, id: callId, type: "function", function: { name: toolName, arguments: "" } }],
          },
          logprobs: null,
          finish_reason: null,
        },
      ]),
    );
    for (const p of pieces) {
      chunks.push(
        event([
          {
            index: 0,
            delta: { tool_calls: [{ index: 0, function: { arguments: p } }] },
            logprobs: null,
            finish_reason: null,
          },
        ]),
      );
    }
  } else {
    chunks.push(event([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]));
    for (const p of pieces) {
      chunks.push(event([{ index: 0, delta: { content: p }, logprobs: null, finish_reason: null }]));
    }
  }
  chunks.push(event([{ index: 0, delta: {}, logprobs: null, finish_reason: finish }]));
  const so = req.body.stream_options;
  if (isObject(so) && so.include_usage === true) chunks.push(event([], `,"usage":${JSON.stringify(usage)}`));
  chunks.push("data: [DONE]\n\n");
  return { status: 200, headers: SSE_HEADERS, chunks, sse: true };
}

const OPENAI_ERRORS = {
  "400": { type: "invalid_request_error", code: null },
  "401": { type: "invalid_request_error", code: "invalid_api_key" },
  "403": { type: "invalid_request_error", code: "unsupported_country_region_territory" },
  "404": { type: "invalid_request_error", code: "model_not_found" },
  "422": { type: "invalid_request_error", code: "unprocessable_entity" },
  "429": { type: "requests", code: "rate_limit_exceeded" },
  "500": { type: "server_error", code: null },
  "503": { type: "server_error", code: "service_unavailable" },
} as const;

function openAIAdapter(models: readonly string[]): ProtocolAdapter<ChatRequest> {
  const modelEntry = (id: string): JsonObject => ({ id, object: "model", created: 1700000000, owned_by: "fake" });
  return {
    chatRoute(method, path) {
      if (method !== "POST") return undefined;
      if (path === "/v1/chat/completions" || path === "/chat/completions") return { stream: false };
      return undefined;
    },
    staticRoute(method, path) {
      if (method !== "GET") return undefined;
      const p = path.startsWith("/v1/") ? path.slice(3) : path;
      if (p === "/models") return Promise.resolve(jsonResponse(200, { object: "list", data: models.map(modelEntry) }));
      if (p.startsWith("/models/")) {
        const id = decodeURIComponent(p.slice("/models/".length));
        return Promise.resolve(jsonResponse(200, modelEntry(id)));
      }
      return undefined;
    },
    parse: ({ body, req, path, index }) => parseOpenAI(body, req, path, index),
    encodeReply: encodeOpenAI,
    encodeError(kind, message, retryAfterSeconds) {
      const info = OPENAI_ERRORS[kind];
      const headers: Record<string, string> = kind === "429" ? { "retry-after": String(retryAfterSeconds) } : {};
      return jsonResponse(Number(kind), { error: { message, type: info.type, param: null, code: info.code } }, headers);
    },
  };
}

/** Starts an OpenAI-compatible chat-completions server on 127.0.0.1 (random port). `url` ends in `/v1`. */
export function startOpenAIServer(options: OpenAIServerOptions): Promise<FakeOpenAIServer> {
  const routes = options.batch ? batchRoutes(options, options.batch) : undefined;
  return startFakeServer(
    openAIAdapter(options.models ?? ["gpt-4o-mini"]),
    { ...options, ...(routes ? { routes: routes.handle } : {}) },
    "/v1",
  ).then((server) => (routes ? Object.assign(server, { batch: routes.state }) : server));
}
