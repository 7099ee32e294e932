import { type LangGraphRunnableConfig, Overwrite } from "@langchain/langgraph";
import { runOf } from "./runtime.js";
import type { CodecState, CodecUpdate } from "./state.js";
import { inDispatchOrder, keepRate, spareCount, waveLimitFor, waveSize } from "../lib/plan.js";

/**
 * Choose the next wave: enough decoded instructions, in dispatch order, to reach the requested size
 * at the keep rate seen so far. The first wave assumes every instruction is kept, so it never
 * overshoots; later waves grow as the observed keep rate says they must, up to `waveLimitFor`. With
 * `spares`, the next instructions in order ride along as spares: each starts only once the wave needs it
 * (`WaveGate`: expected or certain shortfall), and those never started go back to waiting.
 */
export async function schedule(state: CodecState, runtime: LangGraphRunnableConfig): Promise<CodecUpdate> {
  const { config, waves } = runOf(runtime);
  const remaining = config.size - state.progress.kept;
  const waiting = inDispatchOrder(state.decoded);
  const { kept, finished } = state.progress;
  const limit = waveLimitFor(config.waveLimit, config.concurrency);
  const count = waveSize(remaining, waiting.length, keepRate(kept, finished), limit);
  const spareRate = finished > 0 ? keepRate(kept, finished) : config.expectedKeepRate;
  const release = config.spares;
  const spares = release === "off" ? 0 : spareCount(count, remaining, waiting.length, spareRate, limit);
  const wave = waiting.slice(0, count + spares);
  const ids = wave.map((task) => task.id);
  const confidence = config.spareConfidence;
  waves.start({ need: remaining, ids, members: count, cap: config.maxIterations, release, confidence });
  // Instructions sent to filtering leave `decoded` (spares never started come back): state (and each
  // checkpoint) does not grow with the run.
  return {
    wave,
    decoded: new Overwrite(waiting.slice(count + spares)),
    waveStart: state.waveEnd,
    waveEnd: state.waveEnd + count,
  };
}
