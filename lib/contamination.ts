/**
 * No leakage between the data a model was tuned on and the benchmark it is evaluated on. When the data's
 * seeds are a split of the benchmark itself, the seeds are left out and the rest is evaluated (the paper's
 * protocol). Any other benchmark item that shares an id with a seed of the same set, or whose instruction
 * nearly repeats a seed or a kept instruction (ROUGE-L F1 above the run's near-duplicate threshold), is an
 * overlap: the evaluation would measure contamination, not alignment.
 */
import { NearDuplicateIndex } from "./dedupe.js";
import type { Seed } from "./records.js";

/** Used when the run's filter was off (threshold 1): the run's default. */
export const DEFAULT_OVERLAP_THRESHOLD = 0.7;

export interface Overlap {
  /** The benchmark item. */
  id: string;
  /** What it overlaps: a seed of the same set by id, a seed's text, or a kept instruction's text. */
  by: "seed-id" | "seed" | "kept";
  /** The seed's or kept pair's id. */
  of: string;
  /** ROUGE-L F1, for text overlaps. */
  similarity?: number;
}

export interface LeakageInput {
  benchmark: readonly Seed[];
  /**
   * Where the run's seeds came from: a split of this set (its seeds are left out, the rest evaluated), this
   * set as a whole (an item with a seed's id is an overlap), or another set (only text can overlap).
   */
  seedsFrom: "split-of-this-set" | "this-set" | "other-set";
  /** Ids of the run's seeds in their set. */
  seedIds: readonly string[];
  /** The run's seeds with their text (empty when the run did not record them). */
  seeds: readonly Seed[];
  kept: ReadonlyArray<{ id: string; instruction: string }>;
  threshold: number;
}

export interface LeakageCheck {
  /** Benchmark items to evaluate: every item but the seeds of a split of this set. */
  evaluated: Seed[];
  /** Ids left out because they were the data's seeds. */
  excluded: string[];
  overlaps: Overlap[];
  threshold: number;
}

/** The threshold an overlap check uses: the run's near-duplicate threshold, or the default when its filter was off. */
export const overlapThreshold = (runThreshold: number | undefined): number =>
  runThreshold !== undefined && runThreshold < 1 ? runThreshold : DEFAULT_OVERLAP_THRESHOLD;

function textIndex(input: LeakageInput): NearDuplicateIndex {
  const index = new NearDuplicateIndex(input.threshold);
  // Items of one set are distinct items by construction, though some share a template (Vicuna's Fermi
  // questions end alike): the seeds of a split of this set are left out by id, not matched by text.
  if (input.seedsFrom !== "split-of-this-set") {
    for (const seed of input.seeds) index.add(`seed:${seed.id}`, seed.instruction);
  }
  for (const pair of input.kept) index.add(`kept:${pair.id}`, pair.instruction);
  return index;
}

/** Which benchmark items are evaluated, and which of them overlap the data (by id or by text). */
export function checkLeakage(input: LeakageInput): LeakageCheck {
  const seedIds = new Set(input.seedIds);
  const excludedIds = input.seedsFrom === "split-of-this-set" ? seedIds : new Set<string>();
  const evaluated = input.benchmark.filter((item) => !excludedIds.has(item.id));
  const index = textIndex(input);
  const overlaps: Overlap[] = [];
  for (const item of evaluated) {
    if (input.seedsFrom === "this-set" && seedIds.has(item.id)) {
      overlaps.push({ id: item.id, by: "seed-id", of: item.id });
      continue;
    }
    const match = index.find(item.instruction);
    if (!match) continue;
    const [kind, ...rest] = match.of.split(":");
    overlaps.push({
      id: item.id,
      by: kind === "seed" ? "seed" : "kept",
      of: rest.join(":"),
      similarity: match.similarity,
    });
  }
  return {
    evaluated,
    excluded: input.benchmark.filter((item) => excludedIds.has(item.id)).map((item) => item.id),
    overlaps,
    threshold: input.threshold,
  };
}
