import { randomUUID } from "node:crypto";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { configOf } from "../graphs/runtime.js";
import type { CodecState, CodecUpdate } from "../graphs/state.js";
import { usesMetadata } from "../lib/ablation.js";
import { SettingsError, inputProblems } from "../lib/config.js";

/** Check the input holds seeds or user-written metadata (not both, not neither) and stamp the run. */
export async function prepare(state: CodecState, runnable: LangGraphRunnableConfig): Promise<CodecUpdate> {
  const seeds = state.seeds?.length ?? 0;
  const metadata = state.metadata?.length ?? 0;
  if (seeds > 0 && metadata > 0) throw new Error("Give either seed instructions or metadata, not both.");
  if (seeds === 0 && metadata === 0) throw new Error("Give seed instructions (`seeds`) or user-written metadata (`metadata`).");
  const config = configOf(runnable);
  if (seeds === 0 && !usesMetadata(config.ablation)) {
    throw new Error("The no-metadata ablation generates from seed examples: give seed instructions (`seeds`), not metadata.");
  }
  const impossible = inputProblems(config, seeds > 0 ? { seeds } : { metadata });
  if (impossible.length > 0) throw new SettingsError(`Invalid codeclm configuration: ${impossible.join("; ")}`);
  return { runId: state.runId ?? randomUUID(), startedAt: Date.now() };
}
