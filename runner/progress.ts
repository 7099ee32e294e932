/**
 * The live figures a run reports while it goes (`progress` events): records written, the graph's counts,
 * and what the calls spent so far, with what the session knew when it started (for an ETA).
 */
import type { BatchCounts } from "../lib/accounts.js";
import type { CodecConfig } from "../lib/config.js";
import { estimateFor } from "../lib/estimate.js";
import { poolMakeup } from "../lib/pool.js";
import { priceFor } from "../lib/prices.js";
import type { CallServices } from "../models/call.js";
import type { EndpointSnapshot } from "../models/scheduler.js";
import type { RunInput } from "./plan.js";
import type { StateView } from "./state-view.js";

/** Live figures for progress displays: records, per-iteration counts, calls, tokens, cost, limits. */
export interface ProgressSnapshot {
  runId: string;
  size: number;
  /** Pairs in the output file. */
  kept: number;
  keptPerIteration: Record<string, number>;
  reverseKept: number;
  /** Records in the dropped file, and instruction drops by reason. */
  dropped: number;
  droppedByReason: Record<string, number>;
  failures: number;
  instructions: { decoded: number; filtered: number; inWave: number };
  calls: number;
  inFlight: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  costComplete: boolean;
  faults: Record<string, number>;
  malformed: number;
  replayed: number;
  /** This session's time so far. */
  elapsedMs: number;
  /** Calls the dry-run estimate expects for the whole run (for an ETA before the first pairs are kept). */
  expectedCalls: number;
  /** Calls when this session started (a resumed run has spent some already). */
  callsAtStart: number;
  endpoints: EndpointSnapshot[];
  /** With `batch` on: batches pending and done, calls gathered for the next one. */
  batches?: BatchCounts;
  /** Short notices that must stay visible on the progress line (e.g. "mix-and-match off"). */
  notices?: string[];
}

/** What the session knew when it started. */
export interface ProgressBasis {
  runId: string;
  size: number;
  sessionStart: number;
  callsAtStart: number;
  expectedCalls: number;
  /** Every role's model has a price (chat models passed in have none). */
  priced: boolean;
  plausibilityAlertShare: number;
}

export interface ProgressSources {
  files: { keptCount: number; droppedCount: number };
  view: StateView;
  services: Pick<CallServices, "ledger" | "scheduler">;
}

export function progressBasis(
  run: { runId: string; input: RunInput; config: CodecConfig; customModels: boolean },
  services: Pick<CallServices, "ledger">,
): ProgressBasis {
  const { config, input } = run;
  const roles = [config.strong.model, config.target.model, (config.judge ?? config.strong).model];
  const estimate = estimateFor(input, config);
  return {
    runId: run.runId,
    size: config.size,
    sessionStart: Date.now(),
    callsAtStart: services.ledger.snapshot().spent.calls,
    expectedCalls: estimate.total.calls,
    priced: !run.customModels && roles.every((model) => priceFor(model, config.prices) !== undefined),
    plausibilityAlertShare: config.plausibilityAlertShare,
  };
}

/** Failures of every step: instructions' (progress) and seeds' and metadata's (the tally). */
function failureCount(failuresByStep: Record<string, number>, tally: Record<string, number>): number {
  const failed = Object.entries(tally).filter(([key]) => key.startsWith("failed:"));
  return Object.values(failuresByStep).reduce((a, b) => a + b, 0) + failed.reduce((a, [, b]) => a + b, 0);
}

function mixNotices(poolStats: Record<string, number>, alertShare: number): string[] {
  const { mixAndMatch } = poolMakeup(poolStats, alertShare);
  return mixAndMatch === "off" || mixAndMatch === "partly off" ? [`mix-and-match ${mixAndMatch}`] : [];
}

export function progressSnapshot(basis: ProgressBasis, { files, view, services }: ProgressSources): ProgressSnapshot {
  const ledger = services.ledger.snapshot();
  const { progress, tally, poolStats, decodedCount, waveStart, waveEnd } = view.values();
  return {
    runId: basis.runId,
    size: basis.size,
    kept: files.keptCount,
    keptPerIteration: progress.keptPerIteration,
    reverseKept: progress.reverseKept,
    dropped: files.droppedCount,
    droppedByReason: progress.droppedByReason,
    failures: failureCount(progress.failuresByStep, tally),
    instructions: { decoded: decodedCount, filtered: progress.finished, inWave: waveEnd - waveStart },
    calls: ledger.spent.calls,
    inFlight: ledger.inFlight,
    inputTokens: ledger.spent.inputTokens,
    outputTokens: ledger.spent.outputTokens,
    costUsd: ledger.spent.costUsd,
    costComplete: basis.priced && Object.values(ledger.byModel).every((spend) => spend.priced),
    faults: ledger.faults as Record<string, number>,
    malformed: ledger.malformed,
    replayed: ledger.replayed,
    elapsedMs: Date.now() - basis.sessionStart,
    expectedCalls: basis.expectedCalls,
    callsAtStart: basis.callsAtStart,
    endpoints: services.scheduler.snapshot(),
    notices: mixNotices(poolStats, basis.plausibilityAlertShare),
    ...(ledger.batches ? { batches: ledger.batches } : {}),
  };
}
