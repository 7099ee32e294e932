/**
 * Admission of one request: a scheduler slot and a budget reservation, held together as a lease with one
 * release path (`end`). `withLease` ends the lease whatever happens; a request that was answered or
 * failed ends it earlier, with what happened (the scheduler adapts to it); a settled reservation is not
 * released again.
 */
import type { CallRecord } from "../lib/accounts.js";
import type { BudgetStop } from "../lib/budget.js";
import { callDepth } from "../lib/call-order.js";
import type { CallContext, CallRequest } from "./call-context.js";
import type { Reservation } from "./ledger.js";
import type { Slot, SlotOutcome } from "./scheduler.js";

export class CallLease {
  private slotHeld = true;
  private reservation: Reservation | undefined;
  private sharedHeld = false;

  constructor(
    private readonly ctx: CallContext,
    private readonly slot: Slot,
    /** Gives back the fleet-wide endpoint slot (models/shared-limits.ts), with the scheduler's. */
    private readonly fleetSlot: () => void = () => {},
  ) {}

  /** The endpoint was healthy when the request started: a failure then uses up one of the call's retries. */
  get healthy(): boolean {
    return this.slot.healthy;
  }

  /** Reserve the most the request can cost; or the budget it would cross (nothing reserved then). */
  reserve(model: string, promptChars: number): BudgetStop | undefined {
    const reserved = this.ctx.services.ledger.reserve(model, promptChars, this.ctx.config.maxTokens);
    if ("stop" in reserved) return reserved.stop;
    this.reservation = reserved.reservation;
    return undefined;
  }

  /** Free the slot, telling the scheduler how the request went (the first outcome counts). */
  freeSlot(outcome: SlotOutcome): void {
    if (!this.slotHeld) return;
    this.slotHeld = false;
    this.fleetSlot();
    this.ctx.services.scheduler.release(this.slot, outcome);
  }

  /** The fleet's budget too (a shared one, in Postgres), after the run's own: the reservation is dropped if it does not fit. */
  async reserveShared(): Promise<BudgetStop | undefined> {
    const shared = this.ctx.services.sharedBudget;
    if (!shared || !this.reservation) return undefined;
    const stop = await shared.reserve(this.reservation.spend);
    if (stop) {
      this.ctx.services.ledger.release(this.reservation);
      this.reservation = undefined;
    } else this.sharedHeld = true;
    return stop;
  }

  /** The request was answered: the reservation becomes what it really cost. */
  settle(call: CallRecord): void {
    if (!this.reservation) throw new Error("a call was settled without a reservation");
    if (this.sharedHeld) {
      const cost = call.costUsd ?? 0;
      this.ctx.services.sharedBudget?.end(this.reservation.spend, {
        calls: 1,
        inputTokens: call.inputTokens,
        outputTokens: call.outputTokens,
        costUsd: cost,
      });
      this.sharedHeld = false;
    }
    this.ctx.services.ledger.settle(this.reservation, call);
    this.reservation = undefined;
  }

  /** The request ended (failed, cancelled, or answered and settled): release whatever is still held. */
  end(outcome: SlotOutcome): void {
    if (this.reservation) {
      if (this.sharedHeld) this.ctx.services.sharedBudget?.end(this.reservation.spend);
      this.ctx.services.ledger.release(this.reservation);
    }
    this.sharedHeld = false;
    this.reservation = undefined;
    this.freeSlot(outcome);
  }
}

export function promptChars(messages: CallRequest["messages"]): number {
  let chars = 0;
  for (const message of messages) {
    if (typeof message === "string") chars += message.length;
    else if (Array.isArray(message)) chars += String(message[1] ?? "").length;
    else chars += JSON.stringify(message).length;
  }
  return chars;
}

/** This process's scheduler slot, then the fleet's slot at the endpoint (when its limit is shared). */
async function leaseFor(
  ctx: CallContext,
  endpoint: string,
  priority: number,
  signal?: AbortSignal,
): Promise<CallLease> {
  const { scheduler, sharedLimits } = ctx.services;
  const slot = await scheduler.acquire(endpoint, signal, priority);
  if (!sharedLimits) return new CallLease(ctx, slot);
  try {
    return new CallLease(ctx, slot, await sharedLimits.acquire(endpoint, signal));
  } catch (error) {
    scheduler.release(slot, { kind: "cancel" });
    throw error;
  }
}

/**
 * Wait for a slot, then reserve the most the request can cost. The budget is checked once the request
 * can start, so requests waiting for a slot reserve nothing. One that does not fit while others are in
 * flight waits for one of them to end (they reserve a full answer and mostly spend far less), so the run
 * stops near its budget, not a concurrency's worth before; with nothing in flight the run stops.
 */
async function admit(ctx: CallContext, request: CallRequest): Promise<CallLease> {
  const { ledger, control } = ctx.services;
  const taskSignal = ctx.runnable?.signal;
  const endpoint = ctx.factory.endpoint(request.role);
  const model = ctx.factory.describe(request.role);
  const chars = promptChars(request.messages);
  const iteration = ctx.trace?.iteration;
  const priority = callDepth(request.step, typeof iteration === "number" ? iteration : undefined);
  for (;;) {
    if (taskSignal?.aborted) throw taskSignal.reason ?? new Error("aborted");
    control.throwIfStopped();
    const lease = await leaseFor(ctx, endpoint, priority, taskSignal);
    let local: BudgetStop | undefined;
    let shared: BudgetStop | undefined;
    try {
      local = lease.reserve(model, chars);
      shared = local ? undefined : await lease.reserveShared();
    } catch (error) {
      // The shared budget's database failed: nothing may stay held (a held fleet slot blocks every worker).
      lease.end({ kind: "cancel" });
      throw error;
    }
    const stop = local ?? shared;
    if (!stop) return lease;
    lease.end({ kind: "cancel" });
    // The fleet's budget is spent: waiting for this process's calls would not free the others' reservations.
    if (!shared && ledger.callsInFlight > 0) {
      await ledger.whenReleased();
      continue;
    }
    control.stop({ kind: "budget", message: stop.message });
    control.throwIfStopped();
  }
}

/** Run `use` holding an admitted lease; the lease is ended on every path (a cancel, unless `use` ended it). */
export async function withLease<T>(
  ctx: CallContext,
  request: CallRequest,
  use: (lease: CallLease) => Promise<T>,
): Promise<T> {
  const lease = await admit(ctx, request);
  try {
    return await use(lease);
  } finally {
    lease.end({ kind: "cancel" });
  }
}
