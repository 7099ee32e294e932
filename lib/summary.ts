import type { CodecState } from "../graphs/state.js";
import type { CodecConfig } from "./config.js";
import { keepRate } from "./plan.js";
import type { UsageCounts } from "./records.js";
import { type UsageTotals, totalCounts } from "./usage.js";

export interface RunSummary {
  runId: string;
  status: "complete" | "incomplete";
  stopReason: string;
  requested: number;
  kept: number;
  keptPerIteration: Record<string, number>;
  reverseKept: number;
  dropped: Record<string, number>;
  failures: Record<string, number>;
  instructions: { decoded: number; filtered: number; rounds: number };
  pool: Record<string, number>;
  calls: UsageTotals & { total: UsageCounts };
  models: { strong: string; target: string; judge: string };
  settings: Omit<CodecConfig, "prompts"> & { customPrompts: string[] };
  startedAt: string;
  finishedAt: string;
  wallTimeMs: number;
}

/** Why the run ended, in words a user can act on. */
export function stopReasonFor(state: CodecState, config: CodecConfig): string {
  const { kept, finished } = state.progress;
  if (kept >= config.size) return `reached the requested size (${config.size} pairs)`;
  if ((state.seeds?.length ?? 0) > 0 && state.encoded.length === 0) {
    return "no seed could be encoded into metadata (every encode call failed; see the dropped file)";
  }
  if (state.pool.length === 0) return "the metadata pool is empty";
  if (state.decoded.length === 0) {
    if (state.tally["dropped:near-duplicate"]) return "every decoded instruction nearly repeated an earlier one or a seed (see dedupeThreshold and the dropped file)";
    return "no basic instruction could be decoded (every decode call failed; see the dropped file)";
  }
  const rate = finished > 0 ? (kept / finished).toFixed(2) : "n/a";
  const rounds = config.topUpRounds === 0 ? "top-up is off (--top-up-rounds 0)" : `all ${config.topUpRounds} top-up rounds are used`;
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

export function buildSummary(
  state: CodecState,
  config: CodecConfig,
  extra: { stopReason: string; models: RunSummary["models"]; finishedAt: number },
): RunSummary {
  const { prompts, ...settings } = config;
  const startedAt = state.startedAt ?? extra.finishedAt;
  return {
    runId: state.runId ?? "",
    status: state.progress.kept >= config.size ? "complete" : "incomplete",
    stopReason: extra.stopReason,
    requested: config.size,
    kept: state.progress.kept,
    keptPerIteration: state.progress.keptPerIteration,
    reverseKept: state.progress.reverseKept,
    dropped: addCounts(state.progress.droppedByReason, splitTally(state.tally, "dropped:")),
    failures: addCounts(state.progress.failuresByStep, splitTally(state.tally, "failed:")),
    instructions: { decoded: state.decoded.length, filtered: state.progress.finished, rounds: state.round },
    pool: state.poolStats,
    calls: { ...state.usage, total: totalCounts(state.usage) },
    models: extra.models,
    settings: { ...settings, customPrompts: Object.keys(prompts).filter((key) => prompts[key as keyof typeof prompts]) },
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(extra.finishedAt).toISOString(),
    wallTimeMs: extra.finishedAt - startedAt,
  };
}

export { keepRate };
