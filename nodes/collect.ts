import { type LangGraphRunnableConfig, Overwrite } from "@langchain/langgraph";
import { configOf } from "../graphs/runtime.js";
import type { CodecState, CodecUpdate } from "../graphs/state.js";
import { settleWave } from "../lib/outcomes.js";

/** Turn the finished wave into kept pairs and drops, in dispatch order, capped at the requested size. */
export async function collect(state: CodecState, runnable: LangGraphRunnableConfig): Promise<CodecUpdate> {
  const config = configOf(runnable);
  const { kept, dropped, progress } = settleWave(state.outcomes, {
    size: config.size,
    progress: state.progress,
    runId: state.runId ?? "",
  });
  return { kept, dropped, progress, outcomes: new Overwrite([]), wave: [] };
}
