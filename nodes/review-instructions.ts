import { type LangGraphRunnableConfig, interrupt } from "@langchain/langgraph";
import { type InstructionSample, instructionSamples } from "../lib/review.js";
import { needsCheckpointer } from "./review-pool.js";
import { runOf } from "./runtime.js";
import type { CodecState } from "./state.js";

/** What the look's interrupt carries: a sample of each metadata's basic instructions. */
export interface InstructionReview {
  instructions: InstructionSample[];
}

/**
 * An optional look at the basic instructions (`reviewInstructions` N): once, after the first decode round
 * and its near-duplicate filter, the graph stops with N instructions per metadata, before any is answered
 * or judged. Any answer continues (the look changes nothing; to change what is decoded, review the pool).
 */
export function reviewInstructions(state: CodecState, runtime: LangGraphRunnableConfig): Record<string, never> {
  const { config } = runOf(runtime);
  if (config.reviewInstructions === 0 || state.round !== 1 || state.waveEnd > 0) return {};
  const instructions = instructionSamples(state.decoded ?? [], config.reviewInstructions);
  if (instructions.length === 0) return {};
  needsCheckpointer(() => interrupt<InstructionReview, unknown>({ instructions }), "reviewInstructions");
  return {};
}
