import { type Rng, createRng, pickOne, shuffle } from "./rng.js";

export type ActionSampling = "without-replacement" | "with-replacement";

/**
 * The action for an instruction's `improvement`-th improvement (0-based). Drawn from a generator keyed
 * by (seed, instruction id), so the choice does not depend on scheduling. Without replacement, an
 * instruction sees each action at most once until all have been used.
 */
export function pickAction(
  actions: readonly string[],
  options: { seed: number; instructionId: string; improvement: number; sampling: ActionSampling },
): string {
  if (actions.length === 0) throw new Error("no actions to sample from");
  if (options.sampling === "with-replacement") {
    return pickOne(createRng(options.seed, "action", options.instructionId, options.improvement), actions);
  }
  const cycle = Math.floor(options.improvement / actions.length);
  const rng: Rng = createRng(options.seed, "action", options.instructionId, "cycle", cycle);
  return shuffle(rng, actions)[options.improvement % actions.length]!;
}
