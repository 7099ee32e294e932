import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { configOf } from "../graphs/runtime.js";
import type { CodecState, CodecUpdate } from "../graphs/state.js";
import { keepRate, waveSize } from "../lib/plan.js";

/**
 * Choose the next wave: enough decoded instructions, in dispatch order, to reach the requested size
 * at the keep rate seen so far. The first wave assumes every instruction is kept, so it never
 * overshoots; later waves grow as the observed keep rate says they must, up to `waveLimit`.
 */
export async function schedule(state: CodecState, runnable: LangGraphRunnableConfig): Promise<CodecUpdate> {
  const config = configOf(runnable);
  const remaining = config.size - state.progress.kept;
  const pending = state.decoded.length - state.waveEnd;
  const count = waveSize(remaining, pending, keepRate(state.progress.kept, state.progress.finished), config.waveLimit);
  return { waveStart: state.waveEnd, waveEnd: state.waveEnd + count };
}
