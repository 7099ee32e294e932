import type { ModelRole, PipelineStep, UsageCounts } from "./records.js";

/** Calls and tokens by role and by step; merged additively across nodes. */
/** Keys are model roles and pipeline steps. */
export interface UsageTotals {
  byRole: Record<string, UsageCounts>;
  byStep: Record<string, UsageCounts>;
}

export const emptyUsage = (): UsageTotals => ({ byRole: {}, byStep: {} });

const zero = (): UsageCounts => ({ calls: 0, failedCalls: 0, inputTokens: 0, outputTokens: 0 });

function addCounts(into: UsageCounts | undefined, add: UsageCounts): UsageCounts {
  const base = into ?? zero();
  return {
    calls: base.calls + add.calls,
    failedCalls: base.failedCalls + add.failedCalls,
    inputTokens: base.inputTokens + add.inputTokens,
    outputTokens: base.outputTokens + add.outputTokens,
  };
}

export function mergeUsage(a: UsageTotals, b: UsageTotals): UsageTotals {
  const byRole = { ...a.byRole };
  for (const [role, counts] of Object.entries(b.byRole)) {
    byRole[role] = addCounts(byRole[role], counts);
  }
  const byStep = { ...a.byStep };
  for (const [step, counts] of Object.entries(b.byStep)) {
    byStep[step] = addCounts(byStep[step], counts);
  }
  return { byRole, byStep };
}

export function totalCounts(usage: UsageTotals): UsageCounts {
  return Object.values(usage.byRole).reduce<UsageCounts>((sum, counts) => addCounts(sum, counts), zero());
}

/** Collects the calls one node makes; the node returns `meter.totals` in its state update. */
export class UsageMeter {
  totals: UsageTotals = emptyUsage();

  record(role: ModelRole, step: PipelineStep, counts: Partial<UsageCounts>): void {
    const full = { ...zero(), ...counts };
    this.totals = mergeUsage(this.totals, { byRole: { [role]: full }, byStep: { [step]: full } });
  }
}
