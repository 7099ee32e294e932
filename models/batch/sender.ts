/**
 * The batch transport of a run (`batch` on): which calls go as batch lines (the answer and judge steps, or
 * every step, of roles whose endpoint speaks OpenAI's Batch API), each admitted by a budget reservation at
 * the batch price before it is submitted, sent by its own client inside a batch ticket (scope.ts), and
 * metered at the batch price. No scheduler slot is held while a line waits (a batch can take hours), and no
 * per-request timeout applies. A line that comes back failed, or cannot be read, returns the call to the
 * single-request path (transport retries, then a recorded failure).
 */
import { randomUUID } from "node:crypto";
import type { BatchCounts, CallRecord } from "../../lib/accounts.js";
import type { BatchSteps, CodecConfig } from "../../lib/config.js";
import type { ModelRole, PipelineStep } from "../../lib/records.js";
import type { BatchSender, BatchableCall, CallContext, CallRequest } from "../call-context.js";
import { RunStoppedError } from "../control.js";
import type { ModelFactory } from "../factory.js";
import type { CallJournal } from "../journal.js";
import { promptChars } from "../lease.js";
import type { Reservation } from "../ledger.js";
import { BatchCollector } from "./collector.js";
import { type BatchTicket, inBatch } from "./scope.js";

const WAITING_STEPS: Record<BatchSteps, ReadonlySet<PipelineStep> | "all"> = {
  "answers-and-judge": new Set<PipelineStep>(["answer-strong", "answer-target", "judge"]),
  all: "all",
};

export interface BatchTransportOptions {
  steps: BatchSteps;
  maxCalls: number;
  waitSeconds: number;
  pollSeconds: number;
  journal?: CallJournal;
  stopSignal: AbortSignal;
  retryDelayMs?: number;
}

/**
 * Providers whose calls can be batch lines: their client takes the batch fetch (models/providers/openai.ts,
 * anthropic.ts). The collector speaks OpenAI's Batch API and Anthropic's Message Batches (anthropic.ts).
 */
const BATCH_PROVIDERS = ["openai", "anthropic"];
const batchable = (endpoint: string) => BATCH_PROVIDERS.includes(endpoint.slice(0, endpoint.indexOf("|")));

/** Roles whose endpoint has no Batch API here: with `batch` on, their calls still go single, at the standard price. */
export function batchWarnings(config: CodecConfig, factory: ModelFactory, roles: readonly ModelRole[]): string[] {
  if (!config.batch) return [];
  const single = [...new Set(roles)].filter((role) => !batchable(factory.endpoint(role)));
  return single.map(
    (role) =>
      `--batch: the ${role} model ${factory.describe(role)} has no Batch API here (only openai: endpoints batch); ` +
      "its calls go as single requests, at the standard price",
  );
}

/** Reserve the most the call can cost at the batch price; waits for calls in flight, or stops the run at the budget. */
async function reserve(ctx: CallContext, request: CallRequest): Promise<Reservation> {
  const { ledger, control } = ctx.services;
  const model = ctx.factory.describe(request.role);
  const chars = promptChars(request.messages);
  for (;;) {
    control.throwIfStopped();
    const reserved = ledger.reserve(model, chars, ctx.config.maxTokens, "batch");
    if ("reservation" in reserved) return reserved.reservation;
    if (ledger.callsInFlight > 0) {
      await ledger.whenReleased();
      continue;
    }
    control.stop({ kind: "budget", message: reserved.stop.message });
    control.throwIfStopped();
  }
}

export class BatchTransport implements BatchSender {
  private readonly collector: BatchCollector;
  private readonly steps: ReadonlySet<PipelineStep> | "all";

  constructor(options: BatchTransportOptions) {
    this.steps = WAITING_STEPS[options.steps];
    this.collector = new BatchCollector({
      maxCalls: options.maxCalls,
      waitMs: options.waitSeconds * 1000,
      pollMs: options.pollSeconds * 1000,
      stopSignal: options.stopSignal,
      ...(options.journal ? { journal: options.journal } : {}),
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
    });
  }

  counts(): BatchCounts {
    return this.collector.snapshot();
  }

  /** Steps that can wait, of roles whose endpoint speaks OpenAI's Batch API; the others go as single requests. */
  private takes(ctx: CallContext, request: CallRequest): boolean {
    if (this.steps !== "all" && !this.steps.has(request.step)) return false;
    return batchable(ctx.factory.endpoint(request.role));
  }

  async answer(ctx: CallContext, call: BatchableCall) {
    if (!this.takes(ctx, call.request)) return undefined;
    const { ledger, control } = ctx.services;
    const reservation = await reserve(ctx, call.request);
    let open = true;
    const settle = (record: CallRecord) => {
      open = false;
      ledger.settle(reservation, record);
    };
    // Without a journal there is no call key: any unique id will do, nothing is resumed.
    const ticket: BatchTicket = { customId: call.key || randomUUID(), line: this.collector.line, used: false };
    const started = performance.now();
    try {
      const sent = await inBatch(ticket, () => call.send(control.requestSignal));
      // A client without the batch fetch (a provider reached through another package) answered it itself.
      const transport = ticket.used ? "batch" : "single";
      return await call.meter(settle, sent, performance.now() - started, transport);
    } catch (error) {
      if (error instanceof RunStoppedError) throw error;
      control.throwIfStopped(); // the client wraps the collector's stop in its own error
      if (!open) throw error; // metered, then a check crashed: not a transport matter
      if (ticket.used) this.collector.lineFailed();
      return undefined; // sent again as a single request, with the usual retries
    } finally {
      if (open) ledger.release(reservation);
    }
  }
}
