/**
 * In-process HTTP server speaking the Google Generative Language API (`generateContent`,
 * `streamGenerateContent?alt=sse`, `countTokens`, model list) as used by `ChatGoogleGenerativeAI`
 * (@google/generative-ai 0.24 underneath). Point the client at it with `baseUrl: server.url`.
 */
import type { IncomingMessage } from "node:http";
import {
  asNumber,
  asString,
  authFromKey,
  estimateTokens,
  countChars,
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

export interface GeminiRequest extends BaseChatRequest {
  /** API version segment of the path (`v1beta` by default in the SDK). */
  apiVersion: string;
  maxOutputTokens?: number;
  topP?: number;
  topK?: number;
  responseMimeType?: string;
  /** `toolConfig.functionCallingConfig.mode` (`ANY` forces a call). */
  functionCallingMode?: string;
  /** True when a function call is forced (mode ANY). */
  toolForced: boolean;
}

export type GeminiServerOptions = FakeServerOptions<GeminiRequest> & {
  /** Names listed by `GET /{version}/models`. Default `["gemini-2.5-flash"]`. */
  models?: string[];
};

export type FakeGeminiServer = FakeServer<GeminiRequest>;

const CHAT_PATH = /^\/(v1beta|v1|v1alpha)\/(?:models|tunedModels)\/([^/:]+):(generateContent|streamGenerateContent)$/;

function partsText(parts: unknown): string {
  if (!Array.isArray(parts)) return "";
  let out = "";
  for (const p of parts) if (isObject(p) && typeof p.text === "string") out += p.text;
  return out;
}

function parseGemini(
  body: JsonObject,
  req: IncomingMessage,
  path: string,
  index: number,
  query: string,
): GeminiRequest {
  const m = CHAT_PATH.exec(path);
  if (m === null) throw new Error(`Unexpected path ${path}`);
  const [, apiVersion = "v1beta", model = "", task] = m;
  if (!Array.isArray(body.contents)) throw new Error("`contents` must be an array");

  const messages: ChatMessage[] = [];
  if (isObject(body.systemInstruction)) {
    messages.push({ role: "system", content: partsText(body.systemInstruction.parts) });
  } else if (typeof body.systemInstruction === "string") {
    messages.push({ role: "system", content: body.systemInstruction });
  }
  for (const c of body.contents) {
    if (isObject(c)) messages.push({ role: asString(c.role) ?? "user", content: partsText(c.parts) });
  }

  const gen = isObject(body.generationConfig) ? body.generationConfig : {};
  const fcc =
    isObject(body.toolConfig) && isObject(body.toolConfig.functionCallingConfig)
      ? body.toolConfig.functionCallingConfig
      : {};
  const fcMode = asString(fcc.mode);
  const allowed = Array.isArray(fcc.allowedFunctionNames)
    ? fcc.allowedFunctionNames.filter((n) => typeof n === "string")
    : [];
  const declarations: JsonObject[] = [];
  if (Array.isArray(body.tools)) {
    for (const t of body.tools) {
      if (isObject(t) && Array.isArray(t.functionDeclarations)) {
        for (const d of t.functionDeclarations) if (isObject(d)) declarations.push(d);
      }
    }
  }

  let mode: ChatMode = "text";
  let schema: unknown;
  let schemaName: string | undefined;
  let toolName: string | undefined;
  const responseSchema = gen.responseSchema ?? gen.responseJsonSchema;
  const mime = asString(gen.responseMimeType);
  if (declarations.length > 0 && fcMode !== "NONE") {
    mode = "tools";
    const forced = allowed[0];
    const picked = declarations.find((d) => forced !== undefined && d.name === forced) ?? declarations[0];
    toolName = forced ?? asString(picked?.name);
    schema = picked?.parameters;
  } else if (responseSchema !== undefined) {
    mode = "json_schema";
    schema = responseSchema;
    if (isObject(responseSchema)) schemaName = asString(responseSchema.title);
  } else if (mime === "application/json") {
    mode = "json_object";
  }

  const headerKey = req.headers["x-goog-api-key"];
  const queryKey = new URLSearchParams(query).get("key") ?? undefined;
  const out: GeminiRequest = {
    index,
    path,
    apiVersion,
    model,
    messages,
    stream: task === "streamGenerateContent",
    mode,
    toolForced: mode === "tools" && fcMode === "ANY",
    headers: publicHeaders(req),
    auth: authFromKey(typeof headerKey === "string" ? headerKey : queryKey),
    body,
  };
  const temperature = asNumber(gen.temperature);
  if (temperature !== undefined) out.temperature = temperature;
  const maxOutputTokens = asNumber(gen.maxOutputTokens);
  if (maxOutputTokens !== undefined) out.maxOutputTokens = maxOutputTokens;
  const topP = asNumber(gen.topP);
  if (topP !== undefined) out.topP = topP;
  const topK = asNumber(gen.topK);
  if (topK !== undefined) out.topK = topK;
  if (mime !== undefined) out.responseMimeType = mime;
  if (fcMode !== undefined) out.functionCallingMode = fcMode;
  if (schema !== undefined) out.schema = schema;
  if (schemaName !== undefined) out.schemaName = schemaName;
  if (toolName !== undefined) out.toolName = toolName;
  return out;
}

function functionArgs(reply: NormalizedReply): JsonObject | undefined {
  if (reply.kind === "json") return isObject(reply.value) ? reply.value : undefined;
  try {
    const v: unknown = JSON.parse(reply.payload);
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function encodeGemini(
  req: GeminiRequest,
  reply: NormalizedReply,
  malformed: boolean,
  streamChunks: number,
  seq: number,
): Encoded {
  const u = usageFor(req, reply);
  const usageMetadata = {
    promptTokenCount: u.input,
    candidatesTokenCount: u.output,
    totalTokenCount: u.input + u.output,
  };
  const finishReason = reply.finishReason ?? "STOP";
  const responseId = `fake-${seq}`;
  const modelVersion = req.model;

  // Tools mode yields a functionCall when the reply is JSON (or JSON text under a forced call).
  const args = req.mode === "tools" && (reply.kind === "json" || req.toolForced) ? functionArgs(reply) : undefined;
  if (args !== undefined) {
    const name = reply.toolName ?? req.toolName ?? "tool";
    const body = {
      candidates: [{ content: { parts: [{ functionCall: { name, args } }], role: "model" }, finishReason, index: 0 }],
      usageMetadata,
      modelVersion,
      responseId,
    };
    const text = JSON.stringify(body);
    // functionCall args are an object on the wire, so a malformed reply corrupts the whole JSON document.
    const wire = malformed ? truncatePayload(text) : text;
    if (!req.stream) {
      return {
        status: 200,
        headers: { "content-type": "application/json; charset=UTF-8" },
        chunks: [wire],
        sse: false,
      };
    }
    return { status: 200, headers: SSE_HEADERS, chunks: [`data: ${wire}\r\n\r\n`], sse: true };
  }

  const text = malformed ? truncatePayload(reply.payload) : reply.payload;
  if (!req.stream) {
    return jsonResponse(200, {
      candidates: [{ content: { parts: [{ text }], role: "model" }, finishReason, index: 0 }],
      usageMetadata,
      modelVersion,
      responseId,
    });
  }
  const pieces = splitText(text, streamChunks);
  const chunks = pieces.map((piece, i) => {
    const last = i === pieces.length - 1;
    const event = last
      ? {
          candidates: [{ content: { parts: [{ text: piece }], role: "model" }, finishReason, index: 0 }],
          usageMetadata,
          modelVersion,
          responseId,
        }
      : { candidates: [{ content: { parts: [{ text: piece }], role: "model" }, index: 0 }], modelVersion, responseId };
    return `data: ${JSON.stringify(event)}\r\n\r\n`;
  });
  return { status: 200, headers: SSE_HEADERS, chunks, sse: true };
}

const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };

const GOOGLE_STATUS = {
  "400": "INVALID_ARGUMENT",
  "401": "UNAUTHENTICATED",
  "403": "PERMISSION_DENIED",
  "404": "NOT_FOUND",
  "422": "FAILED_PRECONDITION",
  "429": "RESOURCE_EXHAUSTED",
  "500": "INTERNAL",
  "503": "UNAVAILABLE",
} as const;

function geminiAdapter(models: readonly string[]): ProtocolAdapter<GeminiRequest> {
  const modelEntry = (name: string): JsonObject => ({
    name: `models/${name}`,
    displayName: name,
    supportedGenerationMethods: ["generateContent", "streamGenerateContent", "countTokens"],
  });
  return {
    chatRoute(method, path) {
      if (method !== "POST" || !CHAT_PATH.test(path)) return undefined;
      return { stream: path.endsWith(":streamGenerateContent") };
    },
    staticRoute(method, path, body) {
      if (method === "GET" && /^\/(v1beta|v1|v1alpha)\/models$/.test(path)) {
        return Promise.resolve(jsonResponse(200, { models: models.map(modelEntry) }));
      }
      const one = /^\/(?:v1beta|v1|v1alpha)\/models\/([^/:]+)$/.exec(path);
      if (method === "GET" && one?.[1] !== undefined) return Promise.resolve(jsonResponse(200, modelEntry(one[1])));
      if (method === "POST" && /^\/(v1beta|v1|v1alpha)\/models\/[^/:]+:countTokens$/.test(path)) {
        return body().then((b) => {
          const contents = isObject(b) && Array.isArray(b.contents) ? b.contents : [];
          const msgs = contents.map((c) => ({ role: "user", content: isObject(c) ? partsText(c.parts) : "" }));
          return jsonResponse(200, { totalTokens: estimateTokens(countChars(msgs)) });
        });
      }
      return undefined;
    },
    parse: ({ body, req, path, index, query }) => parseGemini(body, req, path, index, query),
    encodeReply: encodeGemini,
    encodeError(kind, message, retryAfterSeconds) {
      const details =
        kind === "429"
          ? [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retryAfterSeconds}s` }]
          : undefined;
      const headers: Record<string, string> = kind === "429" ? { "retry-after": String(retryAfterSeconds) } : {};
      return jsonResponse(
        Number(kind),
        { error: { code: Number(kind), message, status: GOOGLE_STATUS[kind], ...(details ? { details } : {}) } },
        headers,
      );
    },
  };
}

/** Starts a Generative-Language-API server on 127.0.0.1 (random port). `url` has no version segment. */
export function startGeminiServer(options: GeminiServerOptions): Promise<FakeGeminiServer> {
  return startFakeServer(geminiAdapter(options.models ?? ["gemini-2.5-flash"]), options, "");
}
