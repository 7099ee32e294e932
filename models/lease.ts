/**
 * Admission of one request: a scheduler slot and a budget reservation, held together as a lease with one
 * release path. `withLease` ends the lease whatever happens; a request that was answered or failed ends
 * it earlier, with what happened (the scheduler adapts to it), and a settled reservation is not released
 * again.
 */
import type { CallRecord } from "../lib/accounts.js";
import type { CallContext, CallRequest } from "./call-context.js";
import type { Reservation } from "./ledger.js";
import type { Slot, SlotOutcome } from "./scheduler.js";

export class CallLease {
  private slotHeld = true;
  private reserved = true;

  constructor(
    private readonly ctx: CallContext,
    private readonly slot: Slot,
    private readonly reservation: Reservation,
  ) {}

  /** The endpoint was healthy when the request started: a failure then uses up one of the call's retries. */
  get healthy(): boolean {
    return this.slot.healthy;
  }

  /** Free the slot, telling the scheduler how the request went (the first outcome counts). */
  freeSlot(outcome: SlotOutcome): void {
    if (!this.slotHeld) return;
    this.slotHeld = false;
    this.ctx.services.scheduler.release(this.slot, outcome);
  }

  /** The request was answered: the reservation becomes what it really cost. */
  settle(call: CallRecord): void {
    if (!this.reserved) throw new Error("a call's reservation was settled twice");
    this.reserved = false;
    this.ctx.services.ledger.settle(this.reservation, call);
  }

  /** The request ended (failed, cancelled, or answered and settled): release whatever is still held. */
  end(outcome: SlotOutcome): void {
    if (this.reserved) {
      this.reserved = false;
      this.ctx.services.ledger.release(this.reservation);
    }
    this.freeSlot(outcome);
  }
}

function promptChars(messages: CallRequest["messages"]): number {
  let chars = 0;
  for (const message of messages) {
    if (typeof message === "string") chars += message.length;
    else if (Array.isArray(message)) chars += String(message[1] ?? "").length;
    else chars += JSON.stringify(message).length;
  }
  return chars;
}

/**
 * Wait for a slot, then reserve the most the request can cost. The budget is checked once the request
 * can start, so requests waiting for a slot reserve nothing. One that does not fit while others are in
 * flight waits for one of them to end (they reserve a full answer and mostly spend far less), so the run
 * stops near its budget, not a concurrency's worth before; with nothing in flight the run stops.
 */
async function admit(ctx: CallContext, request: CallRequest): Promise<CallLease> {
  const { scheduler, ledger, control } = ctx.services;
  const taskSignal = ctx.runnable?.signal;
  const endpoint = ctx.factory.endpoint(request.role);
  const model = ctx.factory.describe(request.role);
  const chars = promptChars(request.messages);
  for (;;) {
    if (taskSignal?.aborted) throw taskSignal.reason ?? new Error("aborted");
    control.throwIfStopped();
    const slot = await scheduler.acquire(endpoint, taskSignal);
    const reserved = ledger.reserve(model, chars, ctx.config.maxTokens);
    if ("reservation" in reserved) return new CallLease(ctx, slot, reserved.reservation);
    scheduler.release(slot, { kind: "cancel" });
    if (ledger.callsInFlight > 0) {
      await ledger.whenReleased();
      continue;
    }
    control.stop({ kind: "budget", message: reserved.stop.message });
    control.throwIfStopped();
  }
}

/** Run `use` holding an admitted lease; the lease is ended on every path (a cancel, unless `use` ended it). */
export async function withLease<T>(ctx: CallContext, request: CallRequest, use: (lease: CallLease) => Promise<T>): Promise<T> {
  const lease = await admit(ctx, request);
  try {
    return await use(lease);
  } finally {
    lease.end({ kind: "cancel" });
  }
}
