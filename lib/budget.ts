/**
 * Budgets on what a run may spend: model calls, tokens (input + output) and US dollars. The cap is
 * never crossed: a call may start only if everything already paid, everything in flight, and the most
 * this call can cost (its prompt and the longest answer it may return) fit under every limit. Pure.
 */

import {
  type BatchCounts,
  type ModelSpend,
  type Spend,
  type TransportCounts,
  type TransportSpend,
  addSpend,
} from "./accounts.js";

export { type Spend, type ModelSpend, addSpend, emptySpend } from "./accounts.js";

export interface BudgetLimits {
  maxCalls: number | null;
  maxTokens: number | null;
  maxCostUsd: number | null;
}

export type BudgetKind = "calls" | "tokens" | "cost";

export interface BudgetStop {
  kind: BudgetKind;
  message: string;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const usd = (n: number) => `$${n.toFixed(2)}`;

/**
 * Why `next` may not start, or undefined when it fits. `spent` is what answered calls cost, `reserved`
 * what the calls in flight may still cost at most.
 */
export function budgetBlock(limits: BudgetLimits, spent: Spend, reserved: Spend, next: Spend): BudgetStop | undefined {
  const committed = addSpend(spent, reserved);
  if (limits.maxCalls !== null && committed.calls + next.calls > limits.maxCalls) {
    return {
      kind: "calls",
      message: `the call budget of ${fmt(limits.maxCalls)} is spent (${fmt(spent.calls)} answered)`,
    };
  }
  if (limits.maxTokens !== null) {
    const tokens = committed.inputTokens + committed.outputTokens + next.inputTokens + next.outputTokens;
    if (tokens > limits.maxTokens) {
      return {
        kind: "tokens",
        message: `the token budget of ${fmt(limits.maxTokens)} would be crossed by the next call (${fmt(spent.inputTokens + spent.outputTokens)} spent)`,
      };
    }
  }
  if (limits.maxCostUsd !== null && committed.costUsd + next.costUsd > limits.maxCostUsd) {
    return {
      kind: "cost",
      message: `the cost budget of ${usd(limits.maxCostUsd)} would be crossed by the next call (${usd(spent.costUsd)} spent)`,
    };
  }
  return undefined;
}

/** Rough token count of a prompt before it is sent: about 3 characters a token errs on the high side. */
export const estimatePromptTokens = (chars: number) => Math.ceil(chars / 3) + 8;

/** The run's spending live: what was paid, what is in flight, and the transport counts. */
export interface LedgerSnapshot extends TransportCounts {
  spent: Spend;
  inFlight: number;
  byModel: Record<string, ModelSpend>;
  /** Paid calls and cost by how they were sent (single requests, batch lines). */
  byTransport?: TransportSpend;
  /** Paid calls by step, and how many of them were batch lines. */
  batchShareByStep?: Record<string, { calls: number; batchCalls: number }>;
  /** The batch transport's figures, with `batch` on. */
  batches?: BatchCounts;
}
