import { CallAccounts, type UsageTotals } from "./accounts.js";

export { type UsageTotals, emptyUsage, mergeUsage, totalCounts } from "./accounts.js";

/**
 * The calls one node (or one evaluation) makes: call accounts read as usage by role and by step. The
 * node returns `meter.totals` in its state update (the graph state's `usage` channel adds them up).
 */
export class UsageMeter extends CallAccounts {
  get totals(): UsageTotals {
    return this.usage();
  }
}
