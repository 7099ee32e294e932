/**
 * The batch collector: gathers the lines of every call waiting at a batchable step, across the whole graph,
 * into few large batches per (endpoint, model), flushed when full (`batchMaxCalls`) or after a short wait
 * (`batchWaitSeconds`). A batch is an OpenAI Batch API job: the lines uploaded as a JSONL file
 * (`/v1/files`, purpose `batch`), the batch created (`/v1/batches`), recorded in the journal at once, polled,
 * and its output file mapped back to the calls by `custom_id`. A run resumed after a crash finds its batches
 * in the journal and polls them: a call whose line was submitted is never submitted again.
 */
import { randomUUID } from "node:crypto";
import OpenAI, { toFile } from "openai";
import { classifyFault } from "../../lib/faults.js";
import { errorMessage } from "../../lib/redact.js";
import type { BatchCounts } from "../../lib/accounts.js";
import { RunStoppedError } from "../control.js";
import type { CallJournal } from "../journal.js";
import { type AnthropicTarget, anthropicHeaders, pollAnthropic, submitAnthropic } from "./anthropic.js";
import { type LineResult, parseBatchLines } from "./lines.js";
import type { BatchTicket } from "./scope.js";

export { type LineResult, parseBatchLines } from "./lines.js";

export interface CollectorOptions {
  maxCalls: number;
  waitMs: number;
  pollMs: number;
  journal?: CallJournal;
  /** Aborted when the run stops: nothing more is submitted, and waiting calls stop waiting (resume polls). */
  stopSignal: AbortSignal;
  /** Waits between attempts of the files/batches requests (tests shorten them). */
  retryDelayMs?: number;
}

type Endpoint = "/v1/chat/completions" | "/v1/responses";

/** Where a batch goes: one base URL, one endpoint, one model (the Batch API takes one model per batch). */
type Target = {
  id: string;
  /** Set when the endpoint refused a batch for good (no Batch API there): its calls go single from then on. */
  refused?: string;
} & ({ dialect: "openai"; client: OpenAI; endpoint: Endpoint } | { dialect: "anthropic"; anthropic: AnthropicTarget });

interface QueuedLine {
  customId: string;
  body: Record<string, unknown>;
  done: (result: LineResult) => void;
}

interface Queue {
  target: Target;
  lines: QueuedLine[];
  timer?: ReturnType<typeof setTimeout>;
}

const TERMINAL = new Set(["completed", "failed", "expired", "cancelled"]);
/** Answers to a batch upload that mean the endpoint has no Batch API: its calls go single from then on. */
const NO_BATCH_API = new Set([404, 405, 501]);
const FILE_API_ATTEMPTS = 6;

function headerValue(init: RequestInit | undefined, name: string): string | undefined {
  return new Headers(init?.headers).get(name) ?? undefined;
}

export class BatchCollector {
  private readonly queues = new Map<string, Queue>();
  private readonly targets = new Map<string, Target>();
  /** Lines waiting now, by custom_id: a call asked twice waits for the one line. */
  private readonly waiting = new Map<string, Promise<LineResult>>();
  /** Lines of batches submitted in earlier sessions (the journal's), by custom_id. */
  private readonly submitted = new Map<string, string>();
  /** Each batch's results, polled once however many calls wait for it. */
  private readonly results = new Map<string, Promise<Map<string, LineResult>>>();
  private readonly counts: BatchCounts = {
    queued: 0,
    submitted: 0,
    pending: 0,
    completed: 0,
    failed: 0,
    lines: 0,
    lineErrors: 0,
  };

  private restored: Promise<void> | undefined;

  constructor(private readonly options: CollectorOptions) {}

  /** Read the batches earlier sessions submitted (once, before the first line): polled, never submitted again. */
  private restore(): Promise<void> {
    this.restored ??= (async () => {
      for (const row of (await this.options.journal?.batches()) ?? []) {
        for (const id of row.customIds) this.submitted.set(id, row.batchId);
      }
    })();
    return this.restored;
  }

  snapshot(): BatchCounts {
    return { ...this.counts };
  }

  /** A line came back failed (or could not be read): the call goes out as a single request. */
  lineFailed(): void {
    this.counts.lineErrors++;
  }

  /** The intercepted request of one call (scope.ts): its line's response, once its batch is done. */
  readonly line = async (ticket: BatchTicket, url: string, init: RequestInit | undefined): Promise<Response> => {
    await this.restore();
    const result = await this.untilStopped(this.resultOf(ticket.customId, url, init));
    if ("error" in result) {
      ticket.lineError = result.error;
      throw new Error(result.error);
    }
    return new Response(JSON.stringify(result.body), {
      status: result.status,
      headers: { "content-type": "application/json" },
    });
  };

  private resultOf(customId: string, url: string, init: RequestInit | undefined): Promise<LineResult> {
    const known = this.waiting.get(customId);
    if (known) return known;
    const target = this.targetOf(url, init);
    if (target.refused) return Promise.resolve({ error: target.refused });
    const batchId = this.submitted.get(customId);
    const result = batchId
      ? this.batchResults(target, batchId).then((lines) => take(lines, customId, batchId))
      : new Promise<LineResult>((done) => this.enqueue(target, { customId, body: bodyOf(init), done }));
    this.waiting.set(customId, result);
    const forget = () => this.waiting.delete(customId);
    result.then(forget, forget); // handled: its callers see the rejection
    return result;
  }

  /** The client of a batch's endpoint: the base URL and key of the intercepted request (never stored). */
  private targetOf(url: string, init: RequestInit | undefined): Target {
    const { pathname } = new URL(url);
    const suffix = pathname.endsWith("/v1/messages")
      ? "/v1/messages"
      : pathname.endsWith("/responses")
        ? "/responses"
        : "/chat/completions";
    const baseURL = url.slice(0, url.lastIndexOf(suffix));
    const { model } = bodyOf(init);
    const id = `${baseURL.replace(/\/\/[^/@]*@/, "//")}|${suffix}|${typeof model === "string" ? model : ""}`;
    let target = this.targets.get(id);
    if (!target) {
      if (suffix === "/v1/messages") {
        target = { id, dialect: "anthropic", anthropic: { baseURL, headers: anthropicHeaders(init) } };
      } else {
        const apiKey = headerValue(init, "authorization")?.replace(/^Bearer\s+/i, "") ?? "not-needed";
        const client = new OpenAI({ apiKey, baseURL, maxRetries: 0 });
        target = { id, dialect: "openai", client, endpoint: `/v1${suffix}` as Endpoint };
      }
      this.targets.set(id, target);
    }
    return target;
  }

  private enqueue(target: Target, line: QueuedLine): void {
    let queue = this.queues.get(target.id);
    if (!queue) {
      queue = { target, lines: [] };
      this.queues.set(target.id, queue);
    }
    queue.lines.push(line);
    this.counts.queued++;
    if (queue.lines.length >= this.options.maxCalls) this.flush(queue);
    else queue.timer ??= setTimeout(() => this.flush(queue), this.options.waitMs);
  }

  private flush(queue: Queue): void {
    clearTimeout(queue.timer);
    queue.timer = undefined;
    while (queue.lines.length > 0) {
      const lines = queue.lines.splice(0, this.options.maxCalls);
      this.counts.queued -= lines.length;
      void this.submit(queue.target, lines);
    }
  }

  /** Upload, create, record, poll, map back: every line is settled, with its response or an error. */
  private async submit(target: Target, lines: QueuedLine[]): Promise<void> {
    if (this.options.stopSignal.aborted) return; // the callers stopped waiting; nothing was submitted
    let batchId: string;
    try {
      batchId =
        target.dialect === "openai"
          ? await this.submitOpenAI(target.client, target.endpoint, lines)
          : await this.retried(() => submitAnthropic(target.anthropic, lines));
      // Recorded before anything waits on it: a crash from here on resumes by polling this batch.
      await this.options.journal?.recordBatch({ batchId, target: target.id, customIds: lines.map((l) => l.customId) });
    } catch (error) {
      const problem = `the batch could not be submitted: ${errorMessage(error)}`;
      if (NO_BATCH_API.has(classifyFault(error).status ?? 0)) target.refused ??= problem;
      for (const line of lines) line.done({ error: problem });
      return;
    }
    this.counts.submitted++;
    this.counts.lines += lines.length;
    try {
      const results = await this.batchResults(target, batchId);
      // Each answer is handed to its call once: the batch's results are not kept for the rest of the run.
      this.results.delete(batchId);
      for (const line of lines) line.done(take(results, line.customId, batchId));
    } catch (error) {
      for (const line of lines) line.done({ error: `batch ${batchId}: ${errorMessage(error)}` });
    }
  }

  /** The lines as a JSONL file (`/v1/files`), then a batch of it (`/v1/batches`): the batch's id. */
  private async submitOpenAI(client: OpenAI, endpoint: Endpoint, lines: QueuedLine[]): Promise<string> {
    const jsonl = lines
      .map((line) => JSON.stringify({ custom_id: line.customId, method: "POST", url: endpoint, body: line.body }))
      .join("\n");
    const file = await this.retried(async () =>
      client.files.create({
        file: await toFile(Buffer.from(jsonl, "utf8"), `codeclm-${randomUUID()}.jsonl`),
        purpose: "batch",
      }),
    );
    const batch = await this.retried(() =>
      client.batches.create({ input_file_id: file.id, endpoint, completion_window: "24h" }),
    );
    return batch.id;
  }

  private batchResults(target: Target, batchId: string): Promise<Map<string, LineResult>> {
    let results = this.results.get(batchId);
    if (!results) {
      this.counts.pending++;
      results = this.poll(target, batchId).finally(() => this.counts.pending--);
      this.results.set(batchId, results);
    }
    return results;
  }

  private async poll(target: Target, batchId: string): Promise<Map<string, LineResult>> {
    for (;;) {
      const results =
        target.dialect === "openai"
          ? await this.pollOpenAI(target.client, batchId)
          : await this.retried(() => pollAnthropic(target.anthropic, batchId));
      if (results) {
        if (target.dialect === "anthropic") this.counts.completed++; // (OpenAI's: counted by status)
        return results;
      }
      await sleep(this.options.pollMs, this.options.stopSignal);
      if (this.options.stopSignal.aborted) throw stopReason(this.options.stopSignal);
    }
  }

  /** The batch's results once it is done (its output and error files); undefined while it runs. */
  private async pollOpenAI(client: OpenAI, batchId: string): Promise<Map<string, LineResult> | undefined> {
    const batch = await this.retried(() => client.batches.retrieve(batchId));
    if (!TERMINAL.has(batch.status)) return undefined;
    const results = new Map<string, LineResult>();
    for (const fileId of [batch.output_file_id, batch.error_file_id]) {
      if (!fileId) continue;
      const content = await this.retried(() => client.files.content(fileId));
      parseBatchLines(await content.text(), results);
    }
    if (batch.status === "completed") this.counts.completed++;
    else this.counts.failed++;
    return results;
  }

  /** A files/batches request, retried after rate limits, 5xx and dropped connections. */
  private async retried<T>(request: () => Promise<T>): Promise<T> {
    const delay = this.options.retryDelayMs ?? 1000;
    for (let attempt = 1; ; attempt++) {
      try {
        return await request();
      } catch (error) {
        if (attempt >= FILE_API_ATTEMPTS || classifyFault(error).kind === "fatal") throw error;
        await sleep(delay * 2 ** (attempt - 1), this.options.stopSignal);
        if (this.options.stopSignal.aborted) throw stopReason(this.options.stopSignal);
      }
    }
  }

  /** A line's result, unless the run stops first: then the call stops waiting (a resume polls its batch). */
  private untilStopped<T>(waiting: Promise<T>): Promise<T> {
    const signal = this.options.stopSignal;
    if (signal.aborted) return Promise.reject(stopReason(signal));
    return new Promise<T>((resolve, reject) => {
      const onStop = () => reject(stopReason(signal));
      signal.addEventListener("abort", onStop, { once: true });
      waiting.then(resolve, reject).finally(() => signal.removeEventListener("abort", onStop));
    });
  }
}

function bodyOf(init: RequestInit | undefined): Record<string, unknown> {
  if (typeof init?.body !== "string") throw new Error("a batch line needs a JSON request body");
  return JSON.parse(init.body) as Record<string, unknown>;
}

const missing = (batchId: string): LineResult => ({ error: `batch ${batchId} has no line for this call` });

/** A line's result, handed out once. */
function take(results: Map<string, LineResult>, customId: string, batchId: string): LineResult {
  const result = results.get(customId) ?? missing(batchId);
  results.delete(customId);
  return result;
}

function stopReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error
    ? signal.reason
    : new RunStoppedError({ kind: "interrupt", message: "interrupted" });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
