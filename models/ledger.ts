/**
 * The budget side of a run's call accounts: it enforces the budgets (a call reserves the most it can
 * cost before it starts, and settles to what it really cost) over the run's `CallAccounts`, which it
 * holds: restored from the journal on resume, read by the progress line and the summary.
 */
import {
  type AccountsData,
  type BatchCounts,
  CallAccounts,
  type CallRecord,
  type Spend,
  addSpend,
  emptySpend,
} from "../lib/accounts.js";
import {
  type BudgetLimits,
  type BudgetStop,
  type LedgerSnapshot,
  budgetBlock,
  estimatePromptTokens,
} from "../lib/budget.js";
import type { FaultKind } from "../lib/faults.js";
import { type PriceTable, type Transport, costUsd, priceFor } from "../lib/prices.js";

export interface Reservation {
  readonly model: string;
  readonly spend: Spend;
}

export class SpendLedger {
  /** Every call of the run, earlier sessions' included. */
  readonly accounts: CallAccounts;
  private reserved: Spend = emptySpend();
  private inFlight = 0;
  private releaseWaiters: Array<() => void> = [];
  /** The batch transport's figures, shown with the spending (set with `batch` on). */
  batchCounts: (() => BatchCounts) | undefined;

  constructor(
    private readonly limits: BudgetLimits,
    private readonly prices: PriceTable = {},
    restored?: AccountsData,
  ) {
    this.accounts = new CallAccounts(restored);
  }

  costOf(model: string, inputTokens: number, outputTokens: number, transport: Transport = "single"): number | null {
    return costUsd(priceFor(model, this.prices), inputTokens, outputTokens, transport) ?? null;
  }

  /** Reserve the most a call can cost, or say which budget it would cross. */
  reserve(
    model: string,
    promptChars: number,
    maxOutputTokens: number,
    transport: Transport = "single",
  ): { reservation: Reservation } | { stop: BudgetStop } {
    const inputTokens = estimatePromptTokens(promptChars);
    const spend: Spend = {
      calls: 1,
      inputTokens,
      outputTokens: maxOutputTokens,
      costUsd: this.costOf(model, inputTokens, maxOutputTokens, transport) ?? 0,
    };
    const stop = budgetBlock(this.limits, this.accounts.spent(), this.reserved, spend);
    if (stop) return { stop };
    this.reserved = addSpend(this.reserved, spend);
    this.inFlight++;
    return { reservation: { model, spend } };
  }

  /** The call ended without an answer: nothing was spent. */
  release(reservation: Reservation): void {
    this.reserved = addSpend(this.reserved, reservation.spend, -1);
    this.inFlight--;
    const waiters = this.releaseWaiters;
    this.releaseWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Calls holding a reservation now. */
  get callsInFlight(): number {
    return this.inFlight;
  }

  /** Resolves when the next call in flight ends (its reservation is released or settled). */
  whenReleased(): Promise<void> {
    return new Promise((resolve) => this.releaseWaiters.push(resolve));
  }

  /** The call was answered: replace the reservation by what it really cost, recorded as `call`. */
  settle(reservation: Reservation, call: CallRecord): void {
    this.accounts.record(call);
    this.release(reservation);
  }

  recordFault(kind: FaultKind): void {
    this.accounts.fault(kind);
  }

  snapshot(): LedgerSnapshot {
    return {
      spent: this.accounts.spent(),
      inFlight: this.inFlight,
      byModel: this.accounts.byModel(),
      byTransport: this.accounts.byTransport(),
      batchShareByStep: this.accounts.batchShareByStep(),
      ...(this.batchCounts ? { batches: this.batchCounts() } : {}),
      ...this.accounts.transport(),
    };
  }
}
