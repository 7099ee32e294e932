/**
 * Anthropic's Message Batches for the in-process Messages-API server (anthropic-server.ts, option `batch`):
 * `POST /v1/messages/batches` (`{requests: [{custom_id, params}]}`), `GET /v1/messages/batches/{id}`
 * (in progress until `completeAfterMs` has passed and `hold` allows it, then `ended` with a `results_url`) and
 * the results JSONL. Each line is answered by the server's own responder, as `POST /v1/messages` would answer
 * its params; lines failed on purpose (`lineError`) come back `errored`. Counts every submission and every
 * custom_id, so a test can prove nothing was submitted twice and tell batch lines from single requests.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type AnthropicRequest, encodeAnthropic, parseAnthropic } from "./anthropic-server.js";
import { type Responder, isObject, normalizeReply } from "./openai-server.js";

export interface AnthropicBatchOptions {
  /** How long a batch stays in progress after it is created. Default 0. */
  completeAfterMs?: number;
  /** While this returns true, no batch ends (a test holds batches pending, e.g. to kill the client). */
  hold?: () => boolean;
  /** An error message to fail this line with (result `errored`), or undefined to answer it. */
  lineError?: (request: AnthropicRequest, customId: string) => string | undefined;
}

interface BatchLine {
  custom_id: string;
  params: Record<string, unknown>;
}

interface StoredBatch {
  id: string;
  requests: BatchLine[];
  headers: IncomingMessage["headers"];
  createdAt: string;
  readyAt: number;
  ended: boolean;
  results: string;
  counts: { succeeded: number; errored: number };
}

export interface AnthropicBatchState {
  /** Each batch's requests, in creation order. */
  batches: BatchLine[][];
  /** Headers each batch was created with (lower-cased). */
  batchHeaders: Array<IncomingMessage["headers"]>;
  /** Batches created. */
  created: number;
  /** Batches that ended (answered). */
  ended: number;
  /** Lines submitted, over every batch. */
  lines: number;
  /** How many times each custom_id was submitted. */
  submissions: Map<string, number>;
  /** Lines answered by the responder, by model. */
  answered: Map<string, number>;
  /** Tokens reported in the answered lines' usage, over every batch. */
  usage: { input: number; output: number };
}

function readText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, value: unknown, type = "application/json"): true {
  const body = typeof value === "string" ? value : JSON.stringify(value);
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
  return true;
}

const error = (res: ServerResponse, status: number, type: string, message: string) =>
  send(res, status, { type: "error", error: { type, message } });

export function anthropicBatchRoutes(respond: Responder<AnthropicRequest>, options: AnthropicBatchOptions) {
  const state: AnthropicBatchState = {
    batches: [],
    batchHeaders: [],
    created: 0,
    ended: 0,
    lines: 0,
    submissions: new Map(),
    answered: new Map(),
    usage: { input: 0, output: 0 },
  };
  const stored = new Map<string, StoredBatch>();
  let lineIndex = 0;

  const batchObject = (batch: StoredBatch, base: string) => ({
    id: batch.id,
    type: "message_batch",
    processing_status: batch.ended ? "ended" : "in_progress",
    request_counts: {
      processing: batch.ended ? 0 : batch.requests.length,
      succeeded: batch.counts.succeeded,
      errored: batch.counts.errored,
      canceled: 0,
      expired: 0,
    },
    created_at: batch.createdAt,
    ended_at: batch.ended ? new Date().toISOString() : null,
    expires_at: new Date(Date.parse(batch.createdAt) + 86_400_000).toISOString(),
    cancel_initiated_at: null,
    archived_at: null,
    results_url: batch.ended ? `${base}/v1/messages/batches/${batch.id}/results` : null,
  });

  async function answer(line: BatchLine, headers: IncomingMessage["headers"]): Promise<Record<string, unknown>> {
    const request = parseAnthropic(line.params, { headers } as IncomingMessage, "/v1/messages", lineIndex++);
    const failure = options.lineError?.(request, line.custom_id);
    if (failure !== undefined)
      return { type: "errored", error: { type: "error", error: { type: "api_error", message: failure } } };
    const reply = normalizeReply(await respond(request));
    const encoded = encodeAnthropic({ ...request, stream: false }, reply, false, 1, request.index);
    state.answered.set(request.model, (state.answered.get(request.model) ?? 0) + 1);
    const message = JSON.parse(encoded.chunks.join("")) as { usage: { input_tokens: number; output_tokens: number } };
    state.usage.input += message.usage.input_tokens;
    state.usage.output += message.usage.output_tokens;
    return { type: "succeeded", message };
  }

  /** Answers every line of a batch that is due into its results file. */
  async function complete(batch: StoredBatch): Promise<void> {
    if (batch.ended || Date.now() < batch.readyAt || options.hold?.()) return;
    const results = await Promise.all(batch.requests.map((line) => answer(line, batch.headers)));
    if (batch.ended) return; // ended by a concurrent retrieve
    batch.results = batch.requests
      .map((line, i) => JSON.stringify({ custom_id: line.custom_id, result: results[i] }))
      .join("\n");
    batch.counts.succeeded = results.filter((result) => result.type === "succeeded").length;
    batch.counts.errored = batch.requests.length - batch.counts.succeeded;
    batch.ended = true;
    state.ended++;
  }

  async function create(req: IncomingMessage, res: ServerResponse, base: string): Promise<true> {
    let body: unknown;
    try {
      body = JSON.parse(await readText(req));
    } catch {
      return error(res, 400, "invalid_request_error", "Request body is not valid JSON");
    }
    const requests = isObject(body) && Array.isArray(body.requests) ? (body.requests as BatchLine[]) : [];
    if (requests.length === 0) return error(res, 400, "invalid_request_error", "requests: Field required");
    if (typeof req.headers["anthropic-version"] !== "string")
      return error(res, 400, "invalid_request_error", "anthropic-version: header is required");
    for (const line of requests) {
      if (typeof line.custom_id !== "string" || !isObject(line.params))
        return error(res, 400, "invalid_request_error", "requests: each needs custom_id and params");
    }
    for (const { custom_id } of requests) state.submissions.set(custom_id, (state.submissions.get(custom_id) ?? 0) + 1);
    state.batches.push(requests);
    state.batchHeaders.push(req.headers);
    state.created++;
    state.lines += requests.length;
    const now = Date.now();
    const batch: StoredBatch = {
      id: `msgbatch_${randomUUID().replaceAll("-", "")}`,
      requests,
      headers: req.headers,
      createdAt: new Date(now).toISOString(),
      readyAt: now + (options.completeAfterMs ?? 0),
      ended: false,
      results: "",
      counts: { succeeded: 0, errored: 0 },
    };
    stored.set(batch.id, batch);
    return send(res, 200, batchObject(batch, base));
  }

  async function handle(req: IncomingMessage, res: ServerResponse, method: string, path: string): Promise<boolean> {
    const base = `http://${req.headers.host ?? "127.0.0.1"}`;
    if (method === "POST" && path === "/v1/messages/batches") return create(req, res, base);
    const match = /^\/v1\/messages\/batches\/([^/]+)(\/results)?$/.exec(path);
    if (method !== "GET" || !match) return false;
    const batch = stored.get(decodeURIComponent(match[1]!));
    if (!batch) return error(res, 404, "not_found_error", `No such message batch: ${match[1]}`);
    if (!match[2]) {
      await complete(batch);
      return send(res, 200, batchObject(batch, base));
    }
    if (!batch.ended) return error(res, 404, "not_found_error", "results are not ready: the batch has not ended");
    return send(res, 200, batch.results, "application/binary");
  }

  return { handle, state };
}
