import { type LangGraphRunnableConfig, Overwrite } from "@langchain/langgraph";
import { runOf } from "./runtime.js";
import type { CodecState, CodecUpdate } from "./state.js";
import { inDispatchOrder, keepRate, waveSize } from "../lib/plan.js";

/**
 * Choose the next wave: enough decoded instructions, in dispatch order, to reach the requested size
 * at the keep rate seen so far. The first wave assumes every instruction is kept, so it never
 * overshoots; later waves grow as the observed keep rate says they must, up to `waveLimit`.
 */
export async function schedule(state: CodecState, runtime: LangGraphRunnableConfig): Promise<CodecUpdate> {
  const { config } = runOf(runtime);
  const remaining = config.size - state.progress.kept;
  const waiting = inDispatchOrder(state.decoded);
  const count = waveSize(
    remaining,
    waiting.length,
    keepRate(state.progress.kept, state.progress.finished),
    config.waveLimit,
  );
  // Instructions sent to filtering leave `decoded`: state (and each checkpoint) does not grow with the run.
  return {
    wave: waiting.slice(0, count),
    decoded: new Overwrite(waiting.slice(count)),
    waveStart: state.waveEnd,
    waveEnd: state.waveEnd + count,
  };
}
