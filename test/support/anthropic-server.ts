/**
 * In-process HTTP server speaking Anthropic's Messages API (`POST /v1/messages`, plain and SSE streaming,
 * `tools` / `tool_choice` answered with `tool_use` blocks, `output_config.format` JSON schema, usage,
 * `count_tokens`, the model list, and Anthropic's error bodies incl. 429 with `retry-after` and 529 overloaded)
 * as used by `ChatAnthropic` (@anthropic-ai/sdk underneath). Point the client at it with
 * `anthropicApiUrl: server.url`. Reuses the protocol-neutral core of openai-server.ts. With `batch`, also speaks
 * Message Batches (anthropic-batch.ts).
 */
import type { IncomingMessage } from "node:http";
import { type AnthropicBatchOptions, type AnthropicBatchState, anthropicBatchRoutes } from "./anthropic-batch.js";
import {
  asNumber,
  asString,
  authFromKey,
  countChars,
  estimateTokens,
  isObject,
  jsonResponse,
  publicHeaders,
  splitText,
  startFakeServer,
  truncatePayload,
  usageFor,
  type BaseChatRequest,
  type ChatMessage,
  type ChatMode,
  type Encoded,
  type FakeServer,
  type FakeServerOptions,
  type JsonObject,
  type NormalizedReply,
  type ProtocolAdapter,
} from "./openai-server.js";

export interface AnthropicRequest extends BaseChatRequest {
  /** The `anthropic-version` header (required by the API). */
  version: string;
  max_tokens: number;
  /** `tool_choice.type`: auto, any, tool or none. */
  toolChoice?: string;
  /** True when `tool_choice` forces a call (`any`, or `tool` with a name). */
  toolForced: boolean;
}

export type AnthropicServerOptions = FakeServerOptions<AnthropicRequest> & {
  /** Ids listed by `GET /v1/models`. Default `["claude-sonnet-4-5"]`. */
  models?: string[];
  /** Also speak Message Batches (`/v1/messages/batches`; see anthropic-batch.ts). */
  batch?: AnthropicBatchOptions;
};

export type FakeAnthropicServer = FakeServer<AnthropicRequest> & {
  /** Message Batches' state (batches, lines, submissions), when the server was started with `batch`. */
  batch?: AnthropicBatchState;
};

/** Text of a `content` (a string, or blocks: text, tool_use input, tool_result content). */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let out = "";
  for (const block of content) {
    if (!isObject(block)) continue;
    if (block.type === "text" && typeof block.text === "string") out += block.text;
    else if (block.type === "tool_use") out += JSON.stringify(block.input ?? {});
    else if (block.type === "tool_result") out += contentText(block.content);
  }
  return out;
}

function required(body: JsonObject): { model: string; maxTokens: number; messages: unknown[] } {
  const model = asString(body.model);
  if (!model) throw new Error("model: Field required");
  const maxTokens = asNumber(body.max_tokens);
  if (maxTokens === undefined || maxTokens < 1) throw new Error("max_tokens: Field required");
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new Error("messages: Field required");
  return { model, maxTokens, messages: body.messages };
}

interface OutputRequest {
  mode: ChatMode;
  schema?: unknown;
  toolName?: string;
  toolChoice?: string;
  toolForced: boolean;
}

function outputRequest(body: JsonObject): OutputRequest {
  const tools = Array.isArray(body.tools) ? body.tools.filter(isObject) : [];
  const choice = isObject(body.tool_choice) ? body.tool_choice : {};
  const choiceType = asString(choice.type);
  if (tools.length > 0 && choiceType !== "none") {
    const forcedName = choiceType === "tool" ? asString(choice.name) : undefined;
    if (choiceType === "tool" && !tools.some((tool) => tool.name === forcedName))
      throw new Error(`tool_choice: tool ${forcedName ?? "(no name)"} is not in tools`);
    const picked = tools.find((tool) => forcedName !== undefined && tool.name === forcedName) ?? tools[0]!;
    return {
      mode: "tools",
      schema: picked.input_schema,
      toolName: forcedName ?? asString(picked.name),
      ...(choiceType ? { toolChoice: choiceType } : {}),
      toolForced: choiceType === "tool" || choiceType === "any",
    };
  }
  const config = isObject(body.output_config) ? body.output_config : {};
  const format = isObject(config.format) ? config.format : isObject(body.output_format) ? body.output_format : {};
  if (format.type === "json_schema") return { mode: "json_schema", schema: format.schema, toolForced: false };
  return { mode: "text", toolForced: false };
}

export function parseAnthropic(body: JsonObject, req: IncomingMessage, path: string, index: number): AnthropicRequest {
  const version = req.headers["anthropic-version"];
  if (typeof version !== "string" || version === "") throw new Error("anthropic-version: header is required");
  const { model, maxTokens, messages: raw } = required(body);
  const messages: ChatMessage[] = [];
  if (body.system !== undefined) messages.push({ role: "system", content: contentText(body.system) });
  for (const message of raw) {
    if (!isObject(message) || (message.role !== "user" && message.role !== "assistant"))
      throw new Error("messages: each message needs role user or assistant");
    messages.push({ role: message.role, content: contentText(message.content) });
  }
  const output = outputRequest(body);
  const key = req.headers["x-api-key"];
  const headers = publicHeaders(req);
  delete headers["x-api-key"];
  const out: AnthropicRequest = {
    index,
    path,
    model,
    messages,
    stream: body.stream === true,
    mode: output.mode,
    toolForced: output.toolForced,
    version,
    max_tokens: maxTokens,
    headers,
    auth: authFromKey(typeof key === "string" ? key : undefined),
    body,
  };
  const temperature = asNumber(body.temperature);
  if (temperature !== undefined) out.temperature = temperature;
  if (output.schema !== undefined) out.schema = output.schema;
  if (output.toolName !== undefined) out.toolName = output.toolName;
  if (output.toolChoice !== undefined) out.toolChoice = output.toolChoice;
  return out;
}

function toolInput(reply: NormalizedReply): JsonObject | undefined {
  if (reply.kind === "json") return isObject(reply.value) ? reply.value : undefined;
  try {
    const value: unknown = JSON.parse(reply.payload);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
const sse = (type: string, data: JsonObject): string =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

interface Block {
  start: JsonObject;
  deltas: JsonObject[];
}

function streamed(message: JsonObject, block: Block, stopReason: string, outputTokens: number): Encoded {
  const chunks = [
    sse("message_start", { message: { ...message, content: [], stop_reason: null } }),
    sse("content_block_start", { index: 0, content_block: block.start }),
    sse("ping", {}),
    ...block.deltas.map((delta) => sse("content_block_delta", { index: 0, delta })),
    sse("content_block_stop", { index: 0 }),
    sse("message_delta", {
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: outputTokens },
    }),
    sse("message_stop", {}),
  ];
  return { status: 200, headers: SSE_HEADERS, chunks, sse: true };
}

export function encodeAnthropic(
  req: AnthropicRequest,
  reply: NormalizedReply,
  malformed: boolean,
  streamChunks: number,
  seq: number,
): Encoded {
  const u = usageFor(req, reply);
  const usage = {
    input_tokens: u.input,
    output_tokens: u.output,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    service_tier: "standard",
  };
  const message = { id: `msg_fake${seq}`, type: "message", role: "assistant", model: req.model, stop_sequence: null };
  // A JSON reply (or any reply under a forced call) to a tool offer is a tool_use block; text stays text.
  const input = req.mode === "tools" && (reply.kind === "json" || req.toolForced) ? toolInput(reply) : undefined;
  if (input !== undefined) {
    const stopReason = reply.finishReason ?? "tool_use";
    const name = reply.toolName ?? req.toolName ?? "tool";
    const id = `toolu_fake${seq}`;
    if (req.stream) {
      const json = JSON.stringify(input);
      const pieces = splitText(malformed ? truncatePayload(json) : json, streamChunks);
      const block = {
        start: { type: "tool_use", id, name, input: {} },
        deltas: pieces.map((partial_json) => ({ type: "input_json_delta", partial_json })),
      };
      return streamed({ ...message, usage: { ...usage, output_tokens: 1 } }, block, stopReason, u.output);
    }
    const body = JSON.stringify({
      ...message,
      content: [{ type: "tool_use", id, name, input }],
      stop_reason: stopReason,
      usage,
    });
    // tool_use input is an object on the wire, so a malformed reply corrupts the whole JSON document.
    const wire = malformed ? truncatePayload(body) : body;
    return { status: 200, headers: { "content-type": "application/json" }, chunks: [wire], sse: false };
  }
  const text = malformed ? truncatePayload(reply.payload) : reply.payload;
  const stopReason = reply.finishReason ?? "end_turn";
  if (req.stream) {
    const block = {
      start: { type: "text", text: "" },
      deltas: splitText(text, streamChunks).map((piece) => ({ type: "text_delta", text: piece })),
    };
    return streamed({ ...message, usage: { ...usage, output_tokens: 1 } }, block, stopReason, u.output);
  }
  return jsonResponse(200, { ...message, content: [{ type: "text", text }], stop_reason: stopReason, usage });
}

/** Anthropic's error types by status; an overloaded server answers 529, not 503. */
const ANTHROPIC_ERRORS = {
  "400": { status: 400, type: "invalid_request_error" },
  "401": { status: 401, type: "authentication_error" },
  "403": { status: 403, type: "permission_error" },
  "404": { status: 404, type: "not_found_error" },
  "422": { status: 422, type: "invalid_request_error" },
  "429": { status: 429, type: "rate_limit_error" },
  "500": { status: 500, type: "api_error" },
  "503": { status: 529, type: "overloaded_error" },
} as const;

function anthropicAdapter(models: readonly string[]): ProtocolAdapter<AnthropicRequest> {
  const modelEntry = (id: string): JsonObject => ({
    type: "model",
    id,
    display_name: id,
    created_at: "2025-09-29T00:00:00Z",
  });
  let errors = 0;
  return {
    chatRoute(method, path) {
      return method === "POST" && path === "/v1/messages" ? { stream: false } : undefined;
    },
    staticRoute(method, path, body) {
      if (method === "GET" && path === "/v1/models") {
        const data = models.map(modelEntry);
        const page = { data, has_more: false, first_id: models[0] ?? null, last_id: models.at(-1) ?? null };
        return Promise.resolve(jsonResponse(200, page));
      }
      if (method === "GET" && path.startsWith("/v1/models/"))
        return Promise.resolve(jsonResponse(200, modelEntry(decodeURIComponent(path.slice("/v1/models/".length)))));
      if (method === "POST" && path === "/v1/messages/count_tokens") {
        return body().then((b) => {
          const raw = isObject(b) && Array.isArray(b.messages) ? b.messages : [];
          const msgs = raw.map((m) => ({ role: "user", content: isObject(m) ? contentText(m.content) : "" }));
          return jsonResponse(200, { input_tokens: estimateTokens(countChars(msgs)) });
        });
      }
      return undefined;
    },
    parse: ({ body, req, path, index }) => parseAnthropic(body, req, path, index),
    encodeReply: encodeAnthropic,
    encodeError(kind, message, retryAfterSeconds) {
      const info = ANTHROPIC_ERRORS[kind];
      const headers: Record<string, string> = { "request-id": `req_fake${errors++}` };
      if (kind === "429") headers["retry-after"] = String(retryAfterSeconds);
      return jsonResponse(info.status, { type: "error", error: { type: info.type, message } }, headers);
    },
  };
}

/** Starts a Messages-API server on 127.0.0.1 (random port). `url` has no version segment, like api.anthropic.com. */
export function startAnthropicServer(options: AnthropicServerOptions): Promise<FakeAnthropicServer> {
  const routes = options.batch ? anthropicBatchRoutes(options.respond, options.batch) : undefined;
  return startFakeServer(
    anthropicAdapter(options.models ?? ["claude-sonnet-4-5"]),
    { ...options, ...(routes ? { routes: routes.handle } : {}) },
    "",
  ).then((server) => (routes ? Object.assign(server, { batch: routes.state }) : server));
}
