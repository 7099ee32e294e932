import { usesMetadata } from "./ablation.js";
import type { BatchCounts, TransportSpend } from "./accounts.js";
import type { LedgerSnapshot } from "./budget.js";
import type { Budget, CodecConfig } from "./config.js";
import type { FaultKind } from "./faults.js";
import { keepRate } from "./plan.js";
import { type EncodedSeed, type PoolMakeup, poolMakeup } from "./pool.js";
import type { Metadata, PoolEntry, Seed, UsageCounts } from "./records.js";
import type { Progress } from "./tasks.js";
import { type Tailoring, runTailoring } from "./tailoring.js";
import type { SeedSelection } from "./seed-sample.js";
import type { SeedSplit } from "./split.js";
import { type UsageTotals, totalCounts } from "./usage.js";

/** What the run paid for, from the call journal: every answered call, resumed sessions included. */
export interface SpendSummary {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** Cost of the priced models; `costComplete` is false when some model has no price. */
  costUsd: number;
  costComplete: boolean;
  byModel: Record<string, { calls: number; inputTokens: number; outputTokens: number; costUsd: number | null }>;
  /** Paid calls and their cost by how they were sent: single requests, and lines of batches (at the batch price). */
  byTransport?: TransportSpend;
}

/** Every request that did not simply succeed, counted. */
export interface TransportSummary {
  /** Requests that failed and were retried (or given up), by kind: rate-limit, server, timeout, connection, fatal. */
  faults: Partial<Record<FaultKind, number>>;
  /** Answered calls whose output was malformed (retried as structured-output retries). */
  malformed: number;
  /** Calls given up after every retry (recorded as failures of their step). */
  givenUp: number;
  /** Calls answered from the journal instead of being paid again, in the last session of a resumed run. */
  replayed: number;
  /** With `batch` on: the batches of the last session, and of each step's paid calls, how many were batch lines. */
  batches?: BatchCounts & { byStep: Record<string, { calls: number; batchCalls: number }> };
}

export interface RunSummary {
  runId: string;
  /** complete: `size` reached; incomplete: the method gave up short of it; stopped: a budget, an outage or Ctrl-C stopped it, resumable. */
  status: "complete" | "incomplete" | "stopped";
  stopReason: string;
  requested: number;
  kept: number;
  keptPerIteration: Record<string, number>;
  reverseKept: number;
  dropped: Record<string, number>;
  failures: Record<string, number>;
  /**
   * `notNeeded`: decoded but not filtered to the end, because the run had kept enough first (decode ahead;
   * an instruction stopped once enough before it were kept). `pastSize`: filtered to the end past the one
   * that reached the size (spares, an overshooting wave); not written, their calls are in `calls`.
   */
  instructions: { decoded: number; filtered: number; rounds: number; notNeeded?: number; pastSize?: number };
  /**
   * Metadata whose rubrics were written ahead (`rubricsAhead`), and of those, how many no instruction used
   * (their calls are in `calls`, step rubric-generate). Absent when none were.
   */
  rubricsAhead?: { written: number; unused: number };
  pool: Record<string, number>;
  /** How the pool was made: metadata by origin, rejected and failed candidates, skills per metadata, and whether mix-and-match was (partly) off. */
  poolMakeup?: PoolMakeup;
  /** Seeds read, merged (identical), sampled and encoded; absent for runs from user-written metadata. */
  seeds?: Omit<SeedSelection, "split"> & { encoded: number };
  /** The seeds are this split of a set (`--seeds vicuna:20%`): evaluations leave its ids out. */
  split?: SeedSplit;
  /** Use cases and skills of the input (the seeds' encoded metadata, or the user's), for the report's coverage plot. */
  inputMetadata?: MetadataCounts;
  /** How well the kept data's and the pool's metadata match the input's (JS divergence, coverage); absent without metadata. */
  tailoring?: Tailoring;
  calls: UsageTotals & { total: UsageCounts };
  spend?: SpendSummary;
  transport?: TransportSummary;
  budget?: Budget;
  models: { strong: string; target: string; judge: string };
  /** Settings that can run but undermine the method (e.g. strong and target are one model); also printed by the CLI. */
  warnings: string[];
  settings: Omit<CodecConfig, "prompts"> & { customPrompts: string[] };
  startedAt: string;
  finishedAt: string;
  wallTimeMs: number;
}

export interface MetadataCounts {
  source: "seeds" | "user";
  /** Items counted: seeds encoded, or user-written metadata. */
  items: number;
  useCases: Record<string, number>;
  skills: Record<string, number>;
}

/** How often each use case and skill occurs (case-insensitive, first spelling kept). */
export function countMetadata(items: readonly Metadata[]): Pick<MetadataCounts, "useCases" | "skills" | "items"> {
  const counter = () => {
    const spelled = new Map<string, string>();
    const counts: Record<string, number> = {};
    const add = (raw: string) => {
      const key = raw.trim().toLowerCase();
      if (key === "") return;
      if (!spelled.has(key)) spelled.set(key, raw.trim());
      const name = spelled.get(key)!;
      counts[name] = (counts[name] ?? 0) + 1;
    };
    return { counts, add };
  };
  const useCases = counter();
  const skills = counter();
  for (const item of items) {
    useCases.add(item.useCase);
    for (const skill of item.skills) skills.add(skill);
  }
  return { items: items.length, useCases: useCases.counts, skills: skills.counts };
}

/** What a summary reads of a run's graph state (the graph's state type satisfies it). */
export interface RunFacts {
  runId?: string | undefined;
  startedAt?: number | undefined;
  seeds?: Seed[] | undefined;
  seedSelection?: SeedSelection | undefined;
  encoded: EncodedSeed[];
  pool: PoolEntry[];
  poolStats: Record<string, number>;
  round: number;
  decodedCount: number;
  /** Decoded instructions still waiting for filtering when the run ends. */
  decoded?: readonly unknown[] | undefined;
  progress: Progress;
  tally: Record<string, number>;
  usage: UsageTotals;
}

function inputMetadataOf(state: RunFacts): MetadataCounts | undefined {
  const encoded = state.encoded ?? [];
  if (encoded.length > 0) return { source: "seeds", ...countMetadata(encoded) };
  const user = (state.pool ?? []).filter((entry) => entry.origin === "user");
  return user.length > 0 ? { source: "user", ...countMetadata(user) } : undefined;
}

/** Why the run ended, in words a user can act on. */
export function stopReasonFor(state: RunFacts, config: CodecConfig): string {
  const { kept, finished } = state.progress;
  if (kept >= config.size) return `reached the requested size (${config.size} pairs)`;
  const metadata = usesMetadata(config.ablation);
  if (metadata && (state.seeds?.length ?? 0) > 0 && state.encoded.length === 0) {
    return "no seed could be encoded into metadata (every encode call failed; see the dropped file)";
  }
  if (metadata && state.pool.length === 0) return "the metadata pool is empty";
  if (state.decodedCount === 0) {
    if (state.tally["dropped:near-duplicate"]) {
      return "every generated instruction nearly repeated an earlier one or a seed (see dedupeThreshold and the dropped file)";
    }
    if (!metadata) {
      return "no instruction could be generated from the seed examples (every self-instruct call failed; see the dropped file)";
    }
    return "no basic instruction could be decoded (every decode call failed; see the dropped file)";
  }
  const rate = finished > 0 ? (kept / finished).toFixed(2) : "n/a";
  const rounds =
    config.topUpRounds === 0 ? "top-up is off (--top-up-rounds 0)" : `all ${config.topUpRounds} top-up rounds are used`;
  return `kept ${kept} of ${config.size}: ${rounds}; keep rate ${rate} over ${finished} filtered instructions`;
}

function splitTally(tally: Record<string, number>, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(tally)) {
    if (key.startsWith(prefix)) out[key.slice(prefix.length)] = value;
  }
  return out;
}

function addCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [key, value] of Object.entries(b)) out[key] = (out[key] ?? 0) + value;
  return out;
}

export function spendSummary(ledger: LedgerSnapshot): SpendSummary {
  const byModel: SpendSummary["byModel"] = {};
  for (const [model, spend] of Object.entries(ledger.byModel)) {
    byModel[model] = {
      calls: spend.calls,
      inputTokens: spend.inputTokens,
      outputTokens: spend.outputTokens,
      costUsd: spend.priced ? spend.costUsd : null,
    };
  }
  return {
    calls: ledger.spent.calls,
    inputTokens: ledger.spent.inputTokens,
    outputTokens: ledger.spent.outputTokens,
    costUsd: ledger.spent.costUsd,
    costComplete: Object.values(ledger.byModel).every((spend) => spend.priced),
    byModel,
    ...(ledger.byTransport ? { byTransport: ledger.byTransport } : {}),
  };
}

export function transportSummary(ledger: LedgerSnapshot): TransportSummary {
  const { faults, malformed, givenUp, replayed, batches } = ledger;
  return {
    faults,
    malformed,
    givenUp,
    replayed,
    ...(batches ? { batches: { ...batches, byStep: ledger.batchShareByStep ?? {} } } : {}),
  };
}

function seedsOf(state: RunFacts): Pick<RunSummary, "seeds" | "split"> {
  if (!state.seedSelection) return {};
  const { split, ...selection } = state.seedSelection;
  const encoded = state.encoded?.length ?? state.poolStats?.seedsEncoded ?? 0;
  return { seeds: { ...selection, encoded }, ...(split ? { split } : {}) };
}

export function buildSummary(
  state: RunFacts,
  config: CodecConfig,
  extra: {
    stopReason: string;
    models: RunSummary["models"];
    finishedAt: number;
    /** Set for a run stopped before its end (budget, outage, Ctrl-C). */
    stopped?: boolean;
    rubricsAhead?: { written: number; unused: number };
    ledger?: LedgerSnapshot;
    warnings?: string[];
  },
): RunSummary {
  const { prompts, ...settings } = config;
  const startedAt = state.startedAt ?? extra.finishedAt;
  const inputMetadata = inputMetadataOf(state);
  const status = extra.stopped ? "stopped" : state.progress.kept >= config.size ? "complete" : "incomplete";
  return {
    runId: state.runId ?? "",
    status,
    stopReason: extra.stopReason,
    requested: config.size,
    kept: state.progress.kept,
    keptPerIteration: state.progress.keptPerIteration,
    reverseKept: state.progress.reverseKept,
    dropped: addCounts(state.progress.droppedByReason, splitTally(state.tally, "dropped:")),
    failures: addCounts(state.progress.failuresByStep, splitTally(state.tally, "failed:")),
    instructions: {
      decoded: state.decodedCount,
      filtered: state.progress.finished,
      rounds: state.round,
      notNeeded: state.decoded?.length ?? 0,
      ...(state.progress.pastSize ? { pastSize: state.progress.pastSize } : {}),
    },
    ...(extra.rubricsAhead && extra.rubricsAhead.written > 0 ? { rubricsAhead: extra.rubricsAhead } : {}),
    pool: state.poolStats,
    ...(Object.keys(state.poolStats ?? {}).length > 0
      ? { poolMakeup: poolMakeup(state.poolStats, config.plausibilityAlertShare) }
      : {}),
    ...seedsOf(state),
    ...(inputMetadata ? { inputMetadata } : {}),
    ...(inputMetadata
      ? { tailoring: runTailoring(inputMetadata, state.pool ?? [], state.progress.keptByMetadata ?? {}) }
      : {}),
    calls: { ...state.usage, total: totalCounts(state.usage) },
    ...(extra.ledger ? { spend: spendSummary(extra.ledger), transport: transportSummary(extra.ledger) } : {}),
    budget: config.budget,
    models: extra.models,
    warnings: extra.warnings ?? [],
    settings: {
      ...settings,
      customPrompts: Object.keys(prompts).filter((key) => prompts[key as keyof typeof prompts]),
    },
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(extra.finishedAt).toISOString(),
    wallTimeMs: extra.finishedAt - startedAt,
  };
}

export { keepRate };
