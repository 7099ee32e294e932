/**
 * The one accounting model of model calls. Every call ends as one `CallRecord` (answered, malformed or
 * given up; replayed from the journal or paid now); a `CallAccounts` adds records up by (role, step,
 * model) and gives the views the rest of the program reads: usage by role and by step (graph state
 * `usage`, summary `calls`), spending in total and by model (budget, progress line, summary `spend`),
 * and the transport counts (faults, malformed, given up, replayed). The journal's totals are the same
 * aggregate, restored on resume. Pure.
 */
import type { FaultKind } from "./faults.js";
import type { Transport } from "./prices.js";
import type { UsageCounts } from "./records.js";

export type CallOutcome = "answered" | "malformed" | "given-up";

/** One model call, as it ended. */
export interface CallRecord {
  role: string;
  step: string;
  model: string;
  outcome: CallOutcome;
  inputTokens: number;
  outputTokens: number;
  /** What it cost; null when the model has no price (unknown, not zero). */
  costUsd: number | null;
  /** Answered from the journal: a call of its step, paid in an earlier session (not spending again). */
  replayed?: boolean;
  /** How it was sent (default single): a batch line is paid at the batch price. */
  transport?: Transport;
}

/** The calls of one (role, step, model) that were paid: answered ones (malformed included), and given-up ones. */
export interface CallGroup {
  role: string;
  step: string;
  model: string;
  /** Answered calls, malformed ones included. */
  calls: number;
  malformed: number;
  givenUp: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** False when some call of the group had no price. */
  priced: boolean;
  /** Of `calls`, those answered as lines of a provider's batch, and what they cost. */
  batchCalls: number;
  batchCostUsd: number;
}

/** What the accounts hold, as plain data: the journal's totals have this shape. */
export interface AccountsData {
  groups: CallGroup[];
  faults: Partial<Record<FaultKind, number>>;
}

export interface Spend {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** Cost of the calls whose model has a price. */
  costUsd: number;
}

export interface ModelSpend extends Spend {
  /** False when the model has no price: its cost is unknown, not zero. */
  priced: boolean;
  malformed: number;
}

/** Calls and tokens by role and by step (the graph state's `usage`); keys are roles and steps. */
export interface UsageTotals {
  byRole: Record<string, UsageCounts>;
  byStep: Record<string, UsageCounts>;
}

export interface TransportCounts {
  /** Requests that failed and were retried (or given up), by kind. */
  faults: Partial<Record<FaultKind, number>>;
  /** Answered calls whose output was malformed. */
  malformed: number;
  /** Calls given up after every retry. */
  givenUp: number;
  /** Calls answered from the journal instead of the model (resumed runs). */
  replayed: number;
}

export const emptySpend = (): Spend => ({ calls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 });
export const emptyUsage = (): UsageTotals => ({ byRole: {}, byStep: {} });
const zeroCounts = (): UsageCounts => ({ calls: 0, failedCalls: 0, inputTokens: 0, outputTokens: 0 });

export function addSpend(a: Spend, b: Spend, sign = 1): Spend {
  return {
    calls: a.calls + sign * b.calls,
    inputTokens: a.inputTokens + sign * b.inputTokens,
    outputTokens: a.outputTokens + sign * b.outputTokens,
    costUsd: a.costUsd + sign * b.costUsd,
  };
}

export function addCounts(into: UsageCounts | undefined, add: UsageCounts): UsageCounts {
  const base = into ?? zeroCounts();
  return {
    calls: base.calls + add.calls,
    failedCalls: base.failedCalls + add.failedCalls,
    inputTokens: base.inputTokens + add.inputTokens,
    outputTokens: base.outputTokens + add.outputTokens,
  };
}

function addByKey(into: Record<string, UsageCounts>, from: Record<string, UsageCounts>): Record<string, UsageCounts> {
  const out = { ...into };
  for (const [key, counts] of Object.entries(from)) out[key] = addCounts(out[key], counts);
  return out;
}

/** The graph state's reducer: usage merged additively across nodes. */
export function mergeUsage(a: UsageTotals, b: UsageTotals): UsageTotals {
  return { byRole: addByKey(a.byRole, b.byRole), byStep: addByKey(a.byStep, b.byStep) };
}

export function totalCounts(usage: UsageTotals): UsageCounts {
  return Object.values(usage.byRole).reduce<UsageCounts>((sum, counts) => addCounts(sum, counts), zeroCounts());
}

const groupKey = (call: Pick<CallRecord, "role" | "step" | "model">) => `${call.role}|${call.step}|${call.model}`;

export const emptyGroup = (call: Pick<CallRecord, "role" | "step" | "model">): CallGroup => ({
  role: call.role,
  step: call.step,
  model: call.model,
  calls: 0,
  malformed: 0,
  givenUp: 0,
  inputTokens: 0,
  outputTokens: 0,
  costUsd: 0,
  priced: true,
  batchCalls: 0,
  batchCostUsd: 0,
});

/** The batch transport's figures (models/batch/), for the progress line and the summary. */
export interface BatchCounts {
  /** Calls gathered, not yet submitted. */
  queued: number;
  /** Batches this session submitted. */
  submitted: number;
  /** Batches submitted (or found in the journal) and not finished yet. */
  pending: number;
  /** Batches finished, and finished as failed, expired or cancelled. */
  completed: number;
  failed: number;
  /** Lines this session submitted. */
  lines: number;
  /** Lines that came back failed: their calls went out as single requests. */
  lineErrors: number;
}

/** Calls and cost by how they were sent (the summary's and the progress line's single / batch split). */
export type TransportSpend = Record<Transport, { calls: number; costUsd: number }>;

function addRecord(group: CallGroup, call: CallRecord): void {
  if (call.outcome === "given-up") {
    group.givenUp++;
    return;
  }
  group.calls++;
  if (call.outcome === "malformed") group.malformed++;
  group.inputTokens += call.inputTokens;
  group.outputTokens += call.outputTokens;
  group.costUsd += call.costUsd ?? 0;
  group.priced &&= call.costUsd !== null;
  if (call.transport === "batch") {
    group.batchCalls++;
    group.batchCostUsd += call.costUsd ?? 0;
  }
}

const usageOf = (group: CallGroup): UsageCounts => ({
  calls: group.calls,
  failedCalls: group.malformed + group.givenUp,
  inputTokens: group.inputTokens,
  outputTokens: group.outputTokens,
});

export class CallAccounts {
  /** Calls paid (now or, restored, in earlier sessions). */
  private readonly paid = new Map<string, CallGroup>();
  /** Calls answered from the journal in this session: counted as calls of their step, not as spending. */
  private readonly replays = new Map<string, CallGroup>();
  private readonly faultCounts: Partial<Record<FaultKind, number>> = {};

  constructor(restored?: AccountsData) {
    for (const group of restored?.groups ?? []) this.paid.set(groupKey(group), { ...group });
    Object.assign(this.faultCounts, restored?.faults ?? {});
  }

  record(call: CallRecord): void {
    const groups = call.replayed ? this.replays : this.paid;
    const key = groupKey(call);
    let group = groups.get(key);
    if (!group) {
      group = emptyGroup(call);
      groups.set(key, group);
    }
    addRecord(group, call);
  }

  fault(kind: FaultKind): void {
    this.faultCounts[kind] = (this.faultCounts[kind] ?? 0) + 1;
  }

  /** Calls and tokens by role and by step, replayed calls included (what the graph's steps did). */
  usage(): UsageTotals {
    const usage = emptyUsage();
    for (const group of [...this.paid.values(), ...this.replays.values()]) {
      const counts = usageOf(group);
      usage.byRole[group.role] = addCounts(usage.byRole[group.role], counts);
      usage.byStep[group.step] = addCounts(usage.byStep[group.step], counts);
    }
    return usage;
  }

  /** What was paid, in total (replayed calls were paid before and are in the restored groups). */
  spent(): Spend {
    let spent = emptySpend();
    for (const group of this.paid.values()) spent = addSpend(spent, group);
    return {
      calls: spent.calls,
      inputTokens: spent.inputTokens,
      outputTokens: spent.outputTokens,
      costUsd: spent.costUsd,
    };
  }

  byModel(): Record<string, ModelSpend> {
    const out: Record<string, ModelSpend> = {};
    for (const group of this.paid.values()) {
      if (group.calls === 0) continue; // only given-up calls: nothing was paid to this model
      const current = out[group.model] ?? { ...emptySpend(), priced: true, malformed: 0 };
      const sum = addSpend(current, group);
      out[group.model] = {
        ...sum,
        priced: current.priced && group.priced,
        malformed: current.malformed + group.malformed,
      };
    }
    return out;
  }

  /** Paid calls and their cost by transport: batch lines, and single requests (the rest). */
  byTransport(): TransportSpend {
    const out: TransportSpend = { single: { calls: 0, costUsd: 0 }, batch: { calls: 0, costUsd: 0 } };
    for (const group of this.paid.values()) {
      out.batch.calls += group.batchCalls;
      out.batch.costUsd += group.batchCostUsd;
      out.single.calls += group.calls - group.batchCalls;
      out.single.costUsd += group.costUsd - group.batchCostUsd;
    }
    return out;
  }

  /** Paid batch calls by step (how much of each step went through batches). */
  batchShareByStep(): Record<string, { calls: number; batchCalls: number }> {
    const out: Record<string, { calls: number; batchCalls: number }> = {};
    for (const group of this.paid.values()) {
      const entry = (out[group.step] ??= { calls: 0, batchCalls: 0 });
      entry.calls += group.calls;
      entry.batchCalls += group.batchCalls;
    }
    return out;
  }

  transport(): TransportCounts {
    let malformed = 0;
    let givenUp = 0;
    let replayed = 0;
    for (const group of this.paid.values()) {
      malformed += group.malformed;
      givenUp += group.givenUp;
    }
    for (const group of this.replays.values()) replayed += group.calls;
    return { faults: { ...this.faultCounts }, malformed, givenUp, replayed };
  }

  /** The paid groups and faults as plain data (what the journal restores). */
  data(): AccountsData {
    return { groups: [...this.paid.values()].map((group) => ({ ...group })), faults: { ...this.faultCounts } };
  }
}
