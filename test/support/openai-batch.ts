/**
 * OpenAI's Batch API for the in-process OpenAI server: `POST /v1/files` (multipart upload, purpose `batch`),
 * `GET /v1/files/{id}` and `/v1/files/{id}/content`, `POST /v1/batches`, `GET /v1/batches/{id}`. A batch
 * completes once `completeAfterMs` has passed and `hold` allows it, when it is next retrieved: each line is
 * answered by the server's own responder, as the chat endpoint would answer it, into an output file, and
 * lines failed on purpose (`lineError`) into an error file. Counts every submission and every custom_id, so
 * a test can prove nothing was submitted twice.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type ChatRequest,
  type OpenAIServerOptions,
  encodeOpenAI,
  isObject,
  normalizeReply,
  parseOpenAI,
} from "./openai-server.js";

export interface BatchServerOptions {
  /** How long a batch stays in progress after it is created. Default 0. */
  completeAfterMs?: number;
  /** While this returns true, no batch completes (a test holds batches pending, e.g. to kill the client). */
  hold?: () => boolean;
  /** An HTTP status to fail this line with (the line goes to the error file), or undefined to answer it. */
  lineError?: (request: ChatRequest) => number | undefined;
}

interface StoredFile {
  id: string;
  purpose: string;
  filename: string;
  content: string;
}

interface StoredBatch {
  id: string;
  endpoint: string;
  inputFileId: string;
  createdAt: number;
  readyAt: number;
  status: "in_progress" | "completed";
  outputFileId: string | null;
  errorFileId: string | null;
  counts: { total: number; completed: number; failed: number };
}

export interface BatchState {
  files: Map<string, StoredFile>;
  batches: Map<string, StoredBatch>;
  /** Batches created. */
  created: number;
  /** Lines submitted, over every batch. */
  lines: number;
  /** How many times each custom_id was submitted. */
  submissions: Map<string, number>;
  /** Lines per batch, in creation order. */
  sizes: number[];
  /** Lines answered by the responder, by model. */
  answered: Map<string, number>;
}

function readRaw(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function json(res: ServerResponse, status: number, value: unknown): true {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
  return true;
}

const notFound = (res: ServerResponse, what: string) =>
  json(res, 404, { error: { message: `No such ${what}`, type: "invalid_request_error", param: null, code: null } });

function batchObject(batch: StoredBatch): Record<string, unknown> {
  return {
    id: batch.id,
    object: "batch",
    endpoint: batch.endpoint,
    errors: null,
    input_file_id: batch.inputFileId,
    completion_window: "24h",
    status: batch.status,
    output_file_id: batch.outputFileId,
    error_file_id: batch.errorFileId,
    created_at: batch.createdAt,
    request_counts: batch.counts,
    metadata: null,
  };
}

const fileObject = (file: StoredFile) => ({
  id: file.id,
  object: "file",
  bytes: Buffer.byteLength(file.content),
  created_at: Math.floor(Date.now() / 1000),
  filename: file.filename,
  purpose: file.purpose,
});

export function batchRoutes(server: OpenAIServerOptions, options: BatchServerOptions) {
  const state: BatchState = {
    files: new Map(),
    batches: new Map(),
    created: 0,
    lines: 0,
    submissions: new Map(),
    sizes: [],
    answered: new Map(),
  };
  let lineIndex = 0;

  const storeFile = (purpose: string, filename: string, content: string): StoredFile => {
    const file = { id: `file-${randomUUID()}`, purpose, filename, content };
    state.files.set(file.id, file);
    return file;
  };

  async function answerLine(line: Record<string, unknown>): Promise<{ ok: boolean; text: string }> {
    const customId = String(line.custom_id);
    const body = isObject(line.body) ? line.body : {};
    const request = parseOpenAI(body, { headers: {} } as IncomingMessage, String(line.url), lineIndex++);
    const status = options.lineError?.(request);
    if (status !== undefined) {
      const error = { message: `line failed on purpose (${status})`, type: "server_error", param: null, code: null };
      const text = JSON.stringify({
        id: `batch_req_${randomUUID()}`,
        custom_id: customId,
        response: { status_code: status, request_id: randomUUID(), body: { error } },
        error: null,
      });
      return { ok: false, text };
    }
    const reply = normalizeReply(await server.respond(request));
    const encoded = encodeOpenAI({ ...request, stream: false }, reply, false, 1, request.index);
    state.answered.set(request.model, (state.answered.get(request.model) ?? 0) + 1);
    const text = JSON.stringify({
      id: `batch_req_${randomUUID()}`,
      custom_id: customId,
      response: { status_code: 200, request_id: randomUUID(), body: JSON.parse(encoded.chunks.join("")) as unknown },
      error: null,
    });
    return { ok: true, text };
  }

  /** Answers every line of a batch that is due, into its output and error files. */
  async function complete(batch: StoredBatch): Promise<void> {
    if (batch.status === "completed" || Date.now() < batch.readyAt || options.hold?.()) return;
    const input = state.files.get(batch.inputFileId)?.content ?? "";
    const lines = input.split("\n").filter((raw) => raw.trim() !== "");
    const answered = await Promise.all(lines.map((raw) => answerLine(JSON.parse(raw) as Record<string, unknown>)));
    const ok = answered.filter((line) => line.ok).map((line) => line.text);
    const failed = answered.filter((line) => !line.ok).map((line) => line.text);
    if ((batch.status as string) === "completed") return; // completed by a concurrent retrieve
    batch.outputFileId = ok.length > 0 ? storeFile("batch_output", "output.jsonl", ok.join("\n")).id : null;
    batch.errorFileId = failed.length > 0 ? storeFile("batch_output", "errors.jsonl", failed.join("\n")).id : null;
    batch.counts = { total: lines.length, completed: ok.length, failed: failed.length };
    batch.status = "completed";
  }

  async function upload(req: IncomingMessage, res: ServerResponse): Promise<true> {
    const raw = await readRaw(req);
    const form = await new Request("http://local/", {
      method: "POST",
      headers: { "content-type": String(req.headers["content-type"] ?? "") },
      body: raw,
    }).formData();
    const file = form.get("file");
    if (!(file instanceof Blob))
      return json(res, 400, { error: { message: "no file", type: "invalid_request_error" } });
    const name = "name" in file ? String(file.name) : "upload.jsonl";
    return json(res, 200, fileObject(storeFile(String(form.get("purpose") ?? ""), name, await file.text())));
  }

  async function createBatch(req: IncomingMessage, res: ServerResponse): Promise<true> {
    const body = JSON.parse((await readRaw(req)).toString("utf8")) as Record<string, unknown>;
    const file = state.files.get(String(body.input_file_id));
    if (!file) return notFound(res, "file");
    const lines = file.content.split("\n").filter((raw) => raw.trim() !== "");
    for (const raw of lines) {
      const id = String((JSON.parse(raw) as { custom_id?: unknown }).custom_id);
      state.submissions.set(id, (state.submissions.get(id) ?? 0) + 1);
    }
    state.created++;
    state.lines += lines.length;
    state.sizes.push(lines.length);
    const now = Date.now();
    const batch: StoredBatch = {
      id: `batch_${randomUUID()}`,
      endpoint: String(body.endpoint),
      inputFileId: file.id,
      createdAt: Math.floor(now / 1000),
      readyAt: now + (options.completeAfterMs ?? 0),
      status: "in_progress",
      outputFileId: null,
      errorFileId: null,
      counts: { total: lines.length, completed: 0, failed: 0 },
    };
    state.batches.set(batch.id, batch);
    return json(res, 200, batchObject(batch));
  }

  async function handle(req: IncomingMessage, res: ServerResponse, method: string, path: string): Promise<boolean> {
    const p = path.startsWith("/v1/") ? path.slice(3) : path;
    if (method === "POST" && p === "/files") return upload(req, res);
    if (method === "POST" && p === "/batches") return createBatch(req, res);
    const file = /^\/files\/([^/]+)(\/content)?$/.exec(p);
    if (method === "GET" && file) {
      const stored = state.files.get(decodeURIComponent(file[1]!));
      if (!stored) return notFound(res, "file");
      if (!file[2]) return json(res, 200, fileObject(stored));
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(stored.content);
      return true;
    }
    const batch = /^\/batches\/([^/]+)$/.exec(p);
    if (method === "GET" && batch) {
      const stored = state.batches.get(decodeURIComponent(batch[1]!));
      if (!stored) return notFound(res, "batch");
      await complete(stored);
      return json(res, 200, batchObject(stored));
    }
    return false;
  }

  return { handle, state };
}
