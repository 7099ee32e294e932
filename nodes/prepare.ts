import { randomUUID } from "node:crypto";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { runOf } from "./runtime.js";
import type { CodecState, CodecUpdate } from "./state.js";
import { usesMetadata } from "../lib/ablation.js";
import { SettingsError, inputProblems } from "../lib/config.js";
import { firstTooLong, seedSampleSize, selectSeeds } from "../lib/seed-sample.js";

/**
 * Check the input holds seeds or user-written metadata (not both, not neither) and stamp the run.
 * Seeds are narrowed to the ones the run uses before anything fans out: identical ones merged, then a
 * seeded sample sized to the pool (lib/seed-sample.ts). From here on `seeds` means the seeds used.
 */
export async function prepare(state: CodecState, runtime: LangGraphRunnableConfig): Promise<CodecUpdate> {
  const seeds = state.seeds?.length ?? 0;
  const metadata = state.metadata?.length ?? 0;
  if (seeds > 0 && metadata > 0) throw new Error("Give either seed instructions or metadata, not both.");
  if (seeds === 0 && metadata === 0)
    throw new Error("Give seed instructions (`seeds`) or user-written metadata (`metadata`).");
  const { config } = runOf(runtime);
  if (seeds === 0 && !usesMetadata(config.ablation)) {
    throw new Error(
      "The no-metadata ablation generates from seed examples: give seed instructions (`seeds`), not metadata.",
    );
  }
  const impossible = inputProblems(config, seeds > 0 ? { seeds } : { metadata });
  if (impossible.length > 0) throw new SettingsError(`Invalid codeclm configuration: ${impossible.join("; ")}`);
  const stamp = { runId: state.runId ?? randomUUID(), startedAt: Date.now() };
  if (seeds === 0) return stamp;
  const long = firstTooLong(state.seeds!, config.maxSeedChars);
  if (long) {
    throw new Error(
      `Seed "${long.id}" is ${long.instruction.length} characters long, over maxSeedChars (${config.maxSeedChars}): shorten it or raise maxSeedChars.`,
    );
  }
  const chosen = selectSeeds(state.seeds!, {
    sampleSize: seedSampleSize(config.seedSample, config.poolSize),
    seed: config.seed,
  });
  // A reader that chose the seeds already (the CLI) passes what it read; choosing again keeps them all.
  const given = state.seedSelection;
  const seedSelection = given ? { ...given, sampled: chosen.seeds.length } : chosen.selection;
  return { ...stamp, seeds: chosen.seeds, seedSelection };
}
