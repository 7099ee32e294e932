/**
 * What a run has spent and has in flight, live: answered calls, tokens and cost by model, transport
 * faults by kind, replayed calls. It enforces the budgets (a call reserves the most it can cost before
 * it starts) and feeds the progress display. Started from the journal's totals on resume.
 */
import { type BudgetLimits, type BudgetStop, type LedgerSnapshot, type ModelSpend, type Spend, addSpend, budgetBlock, emptySpend, estimatePromptTokens } from "../lib/budget.js";
import type { FaultKind } from "../lib/faults.js";
import { type PriceTable, costUsd, priceFor } from "../lib/prices.js";
import type { JournalTotals } from "./journal.js";

export interface Reservation {
  readonly model: string;
  readonly spend: Spend;
}

export class SpendLedger {
  private spent: Spend = emptySpend();
  private reserved: Spend = emptySpend();
  private inFlight = 0;
  private releaseWaiters: Array<() => void> = [];
  private readonly byModel: Record<string, ModelSpend> = {};
  private readonly faults: Partial<Record<FaultKind, number>> = {};
  private malformed = 0;
  replayed = 0;
  givenUp = 0;

  constructor(
    private readonly limits: BudgetLimits,
    private readonly prices: PriceTable = {},
    initial?: JournalTotals,
  ) {
    for (const group of initial?.groups ?? []) {
      this.add(group.model, { calls: group.calls, inputTokens: group.inputTokens, outputTokens: group.outputTokens, costUsd: group.costUsd }, group.malformed);
    }
    for (const [kind, count] of Object.entries(initial?.faults ?? {})) this.faults[kind as FaultKind] = count;
  }

  private add(model: string, spend: Spend, malformed: number): void {
    this.spent = addSpend(this.spent, spend);
    this.malformed += malformed;
    const priced = priceFor(model, this.prices) !== undefined;
    const current = this.byModel[model] ?? { ...emptySpend(), priced, malformed: 0 };
    this.byModel[model] = { ...addSpend(current, spend), priced, malformed: current.malformed + malformed };
  }

  costOf(model: string, inputTokens: number, outputTokens: number): number | null {
    return costUsd(priceFor(model, this.prices), inputTokens, outputTokens) ?? null;
  }

  /** Reserve the most a call can cost, or say which budget it would cross. */
  reserve(model: string, promptChars: number, maxOutputTokens: number): { reservation: Reservation } | { stop: BudgetStop } {
    const inputTokens = estimatePromptTokens(promptChars);
    const spend: Spend = { calls: 1, inputTokens, outputTokens: maxOutputTokens, costUsd: this.costOf(model, inputTokens, maxOutputTokens) ?? 0 };
    const stop = budgetBlock(this.limits, this.spent, this.reserved, spend);
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

  /** The call was answered: replace the reservation by what it really cost. Returns the cost (null: no price). */
  settle(reservation: Reservation, inputTokens: number, outputTokens: number, malformed: boolean): number | null {
    this.release(reservation);
    const cost = this.costOf(reservation.model, inputTokens, outputTokens);
    this.add(reservation.model, { calls: 1, inputTokens, outputTokens, costUsd: cost ?? 0 }, malformed ? 1 : 0);
    return cost;
  }

  recordFault(kind: FaultKind): void {
    this.faults[kind] = (this.faults[kind] ?? 0) + 1;
  }

  snapshot(): LedgerSnapshot {
    return {
      spent: { ...this.spent },
      inFlight: this.inFlight,
      byModel: Object.fromEntries(Object.entries(this.byModel).map(([model, spend]) => [model, { ...spend }])),
      faults: { ...this.faults },
      malformed: this.malformed,
      replayed: this.replayed,
      givenUp: this.givenUp,
    };
  }
}
