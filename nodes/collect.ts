import { type LangGraphRunnableConfig, Overwrite } from "@langchain/langgraph";
import { runOf } from "./runtime.js";
import type { CodecState, CodecUpdate } from "./state.js";
import { repeatCheckOn, settleWave } from "../lib/outcomes.js";
import { runIndex } from "./dedupe.js";

/**
 * Turn the finished wave into kept pairs and drops, in dispatch order, capped at the requested size. A
 * pair whose final instruction (improved by action-apply, or as decoded) nearly repeats another
 * instruction of the run is not kept: no two kept pairs share an instruction or a basic instruction.
 */
export async function collect(state: CodecState, runtime: LangGraphRunnableConfig): Promise<CodecUpdate> {
  const { config } = runOf(runtime);
  const { finals } = runOf(runtime).dedupe;
  const staged = finals ? { stage: finals, outcomes: state.outcomes } : undefined;
  const repeats =
    config.dedupeThreshold < 1
      ? repeatCheckOn(runIndex(runtime, state, { waitingAreFresh: false }), staged)
      : undefined;
  finals?.clear();
  // Instructions the wave did not need (spares never started, instructions stopped once enough before them
  // were kept) go back to waiting: the next wave, or the summary's `notNeeded`.
  runOf(runtime).waves.end();
  const ended = new Set(state.outcomes.map((outcome) => outcome.task.id));
  const unended = state.wave.filter((task) => !ended.has(task.id));
  const { kept, dropped, progress } = settleWave(state.outcomes, {
    size: config.size,
    progress: state.progress,
    runId: state.runId ?? "",
    repeats,
  });
  const sent = state.waveStart + state.outcomes.length;
  return {
    kept,
    dropped,
    progress,
    outcomes: new Overwrite([]),
    wave: [],
    decoded: unended,
    waveStart: sent,
    waveEnd: sent,
  };
}
