/**
 * Which seeds a run encodes. A seed file may hold far more seeds than the metadata pool can use (the
 * paper's seed sets are a few dozen to a few hundred instructions for a pool of 200), and identical seeds
 * would be encoded, and paid for, once per copy. So, before the encode fan-out:
 *
 * 1. identical seeds (same text once whitespace runs are collapsed and the ends trimmed) are merged: the
 *    first one read stands for its copies, whose ids are recorded;
 * 2. a seeded uniform sample of the distinct seeds is drawn (reservoir sampling, one pass, memory bounded
 *    by the sample), kept in file order.
 *
 * The sample size is `seedSample` when set (a number, or "all"), else `max(poolSize, MIN_AUTO_SEED_SAMPLE)`:
 * enough seeds for every pool slot to start from its own seed's metadata, and a floor so that small pools
 * still see a spread of the seed distribution. Fewer distinct seeds than that: all of them are used.
 *
 * Pure: the same seeds in the same order with the same settings give the same selection, whether they are
 * fed one by one (the CLI's streaming reader) or as an array (the graph's `prepare`).
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Seed } from "./records.js";
import { createRng, randomInt } from "./rng.js";
import { SeedSplitSchema } from "./split.js";

/** Smallest automatic sample: small pools still draw use cases and skills from a spread of seeds. */
export const MIN_AUTO_SEED_SAMPLE = 50;
/** Most merged ids listed in the record (counts are always complete). */
export const MERGED_IDS_LISTED = 1000;

export type SeedSampleSetting = number | "all" | null;

export const SeedSelectionSchema = z.object({
  read: z.number().describe("Seed records read"),
  unique: z.number().describe("Distinct seeds once identical ones (whitespace-normalised) are merged"),
  duplicates: z.number().describe("Seeds merged into an identical earlier one (read - unique)"),
  sampleSize: z.union([z.number(), z.literal("all")]).describe('Sample size asked for: a number, or "all"'),
  sampled: z.number().describe("Seeds used: the sample that is encoded"),
  merged: z
    .record(z.string(), z.array(z.string()))
    .describe(
      `For each seed used, the ids of identical seeds merged into it (at most ${MERGED_IDS_LISTED} ids listed)`,
    ),
  mergedNotListed: z.number().describe("Merged ids of used seeds left out of `merged` past the listing limit"),
  split: SeedSplitSchema.optional().describe("When the seeds are a split of a set (`--seeds vicuna:20%`): which items"),
});
export type SeedSelection = z.infer<typeof SeedSelectionSchema>;

/** The sample size for a run: the setting, else `max(poolSize, MIN_AUTO_SEED_SAMPLE)`. */
export function seedSampleSize(setting: SeedSampleSetting | undefined, poolSize: number): number | "all" {
  if (setting === "all") return "all";
  if (typeof setting === "number") return setting;
  return Math.max(poolSize, MIN_AUTO_SEED_SAMPLE);
}

/** Whitespace runs collapsed to one space, ends trimmed: what "identical seeds" compares. */
export const normalizeSeedText = (text: string): string => text.replace(/\s+/g, " ").trim();

/** A short fixed-size key for a seed text, so that 100,000 distinct seeds cost megabytes, not their text. */
const textKey = (text: string): string => createHash("sha256").update(normalizeSeedText(text)).digest("base64");

interface Candidate {
  seed: Seed;
  /** Position among the distinct seeds, to restore file order. */
  position: number;
}

/** Streaming selector: `add` every seed in file order, then `result`. */
export class SeedSelector {
  private readonly sampleSize: number | "all";
  private readonly size: number;
  private readonly rng;
  private readonly firstIdOf = new Map<string, string>();
  /** Merged ids by the id of the seed they merged into; only the seeds in the reservoir keep theirs. */
  private readonly mergedInto = new Map<string, string[]>();
  private reservoir: Candidate[] = [];
  private read = 0;
  private unique = 0;

  constructor(options: { sampleSize: number | "all"; seed: number }) {
    this.size = options.sampleSize === "all" ? Number.POSITIVE_INFINITY : options.sampleSize;
    this.rng = createRng(options.seed, "seed-sample");
    this.sampleSize = options.sampleSize;
  }

  /** The id of the identical seed this one merged into, or undefined when it is the first of its text. */
  add(seed: Seed): string | undefined {
    this.read++;
    const key = textKey(seed.instruction);
    const first = this.firstIdOf.get(key);
    if (first !== undefined) {
      this.mergedInto.get(first)?.push(seed.id);
      return first;
    }
    this.firstIdOf.set(key, seed.id);
    const position = this.unique++;
    // Reservoir sampling (Algorithm R): every distinct seed ends in the sample with the same probability.
    if (this.reservoir.length < this.size) {
      this.keep({ seed, position });
    } else {
      const slot = randomInt(this.rng, 0, position);
      if (slot < this.size) {
        const evicted = this.reservoir[slot]!;
        this.mergedInto.delete(evicted.seed.id);
        this.reservoir[slot] = { seed, position };
        this.mergedInto.set(seed.id, []);
      }
    }
    return undefined;
  }

  private keep(candidate: Candidate): void {
    this.reservoir.push(candidate);
    this.mergedInto.set(candidate.seed.id, []);
  }

  result(): { seeds: Seed[]; selection: SeedSelection } {
    const chosen = [...this.reservoir].sort((a, b) => a.position - b.position).map((candidate) => candidate.seed);
    const merged: Record<string, string[]> = {};
    let listed = 0;
    let notListed = 0;
    for (const seed of chosen) {
      const ids = this.mergedInto.get(seed.id) ?? [];
      if (ids.length === 0) continue;
      const room = Math.max(0, MERGED_IDS_LISTED - listed);
      if (room > 0) merged[seed.id] = ids.slice(0, room);
      listed += Math.min(room, ids.length);
      notListed += Math.max(0, ids.length - room);
    }
    return {
      seeds: chosen,
      selection: {
        read: this.read,
        unique: this.unique,
        duplicates: this.read - this.unique,
        sampleSize: this.sampleSize,
        sampled: chosen.length,
        merged,
        mergedNotListed: notListed,
      },
    };
  }
}

/** The selection for an array of seeds (the graph's `prepare`); the same as feeding them to a `SeedSelector`. */
export function selectSeeds(
  seeds: readonly Seed[],
  options: { sampleSize: number | "all"; seed: number },
): { seeds: Seed[]; selection: SeedSelection } {
  const selector = new SeedSelector(options);
  for (const seed of seeds) selector.add(seed);
  return selector.result();
}

/** The first seed longer than `maxChars` characters, if any. */
export function firstTooLong(seeds: readonly Seed[], maxChars: number): Seed | undefined {
  return seeds.find((seed) => seed.instruction.length > maxChars);
}
