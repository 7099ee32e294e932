import type { Seed } from "./records.js";
import { createRng, sampleWithoutReplacement } from "./rng.js";

/** Seed instructions shown as examples in one Self-Instruct call (Self-Instruct used 8, Alpaca 3). */
export const SELF_INSTRUCT_EXAMPLES = 6;
/** Instructions asked for in one Self-Instruct call. */
export const SELF_INSTRUCT_PER_CALL = 10;

export interface SelfInstructBatch {
  round: number;
  batch: number;
  count: number;
  examples: Seed[];
}

/**
 * The Self-Instruct calls of one round: `total` instructions split into calls of at most `perCall`, each
 * showing a seeded sample of the seeds as examples (drawn per round and batch, not per call order).
 */
export function selfInstructBatches(
  seeds: readonly Seed[],
  options: { total: number; round: number; seed: number; perCall?: number; examples?: number },
): SelfInstructBatch[] {
  const perCall = options.perCall ?? SELF_INSTRUCT_PER_CALL;
  const examples = Math.min(options.examples ?? SELF_INSTRUCT_EXAMPLES, seeds.length);
  const batches: SelfInstructBatch[] = [];
  for (let batch = 0, left = options.total; left > 0; batch++, left -= perCall) {
    const rng = createRng(options.seed, "self-instruct", options.round, batch);
    batches.push({
      round: options.round,
      batch,
      count: Math.min(perCall, left),
      examples: sampleWithoutReplacement(rng, seeds, examples),
    });
  }
  return batches;
}

/** The examples as the prompt lists them: numbered, one per line (line breaks inside an example kept as spaces). */
export const formatExamples = (examples: readonly Seed[]): string =>
  examples.map((seed, index) => `${index + 1}. ${seed.instruction.replace(/\s*\n\s*/g, " ")}`).join("\n");
