/**
 * `eval --data RUN.jsonl` (and `ablate`'s rows): evaluate only what the tuned model's data did not come
 * from. The benchmark is checked against the run's seeds and kept instructions (lib/contamination.ts):
 * a split of this benchmark leaves its seeds out; any other overlap refuses, unless allowed.
 */
import { type LeakageCheck, type Overlap, checkLeakage, overlapThreshold } from "../lib/contamination.js";
import type { Seed } from "../lib/records.js";
import { sameSet } from "../io/benchmarks.js";
import { InputError } from "../io/input-error.js";
import type { RunData } from "../io/run-data.js";

/** Most overlaps listed in the summary (the count is always complete). */
const OVERLAPS_LISTED = 100;

/** `leakage` of `eval.summary.json`: what was left out, and what overlaps. */
export interface LeakageSummary {
  data: string;
  /** Where the data's seeds came from (a split of a set, or a whole file), when the run recorded it. */
  seedsFrom?: { set: string; fraction?: number; count?: number; seed: number; whole?: boolean; seeds: number };
  /** Benchmark items left out because they were the data's seeds. */
  excluded: number;
  evaluated: number;
  /** Evaluated items that overlap the data: same id as a seed of this set, or ROUGE-L above `threshold`. */
  overlap: number;
  overlapBy: Record<Overlap["by"], number>;
  overlaps: Overlap[];
  threshold: number;
  allowed: boolean;
  /** Said when the run did not record its seeds: only kept instructions could be checked. */
  note?: string;
}

function relation(benchmarkSpec: string, data: RunData): "split-of-this-set" | "this-set" | "other-set" {
  const split = data.split;
  if (!split) return "other-set";
  const same = sameSet(benchmarkSpec, split.file ?? split.set) || sameSet(benchmarkSpec, split.set);
  if (!same) return "other-set";
  return split.whole ? "this-set" : "split-of-this-set";
}

/** The benchmark items to evaluate and their overlaps with the data. */
export function leakageOf(benchmarkSpec: string, benchmark: readonly Seed[], data: RunData): LeakageCheck {
  return checkLeakage({
    benchmark,
    seedsFrom: relation(benchmarkSpec, data),
    seedIds: data.split?.ids ?? [],
    seeds: data.seeds,
    kept: data.kept,
    threshold: overlapThreshold(data.dedupeThreshold),
  });
}

export function leakageSummary(check: LeakageCheck, data: RunData, allowed: boolean): LeakageSummary {
  const overlapBy = { "seed-id": 0, seed: 0, kept: 0 };
  for (const overlap of check.overlaps) overlapBy[overlap.by]++;
  const split = data.split;
  return {
    data: data.path,
    ...(split
      ? {
          seedsFrom: {
            set: split.set,
            ...(split.fraction !== undefined ? { fraction: split.fraction } : {}),
            ...(split.count !== undefined ? { count: split.count } : {}),
            seed: split.seed,
            ...(split.whole ? { whole: true } : {}),
            seeds: split.ids.length,
          },
        }
      : { note: "the run did not record its seeds: the benchmark was checked against its kept instructions only" }),
    excluded: check.excluded.length,
    evaluated: check.evaluated.length,
    overlap: check.overlaps.length,
    overlapBy,
    overlaps: check.overlaps.slice(0, OVERLAPS_LISTED),
    threshold: check.threshold,
    allowed,
  };
}

/** Refuses (exit 2) an evaluation whose benchmark overlaps the data, unless allowed; says how many and how. */
export function refuseOverlap(benchmarkSpec: string, summary: LeakageSummary): void {
  if (summary.overlap === 0 || summary.allowed) return;
  const { overlapBy: by } = summary;
  const parts = [
    by["seed-id"] ? `${by["seed-id"]} are its seeds (same ids)` : "",
    by.seed ? `${by.seed} nearly repeat its seeds` : "",
    by.kept ? `${by.kept} nearly repeat its kept instructions` : "",
  ].filter(Boolean);
  const example = summary.overlaps[0]!;
  throw new InputError(
    benchmarkSpec,
    undefined,
    `${summary.overlap} of ${summary.evaluated} item(s) overlap the data in ${summary.data} (${parts.join(", ")}; ROUGE-L above ${summary.threshold}), e.g. item "${example.id}" and ${example.by === "kept" ? "kept pair" : "seed"} "${example.of}": ` +
      "evaluating on them measures contamination, not alignment. Seed from a split (--seeds SET:20%) and evaluate on the rest, or give --allow-overlap to run anyway (the overlap is reported)",
  );
}
