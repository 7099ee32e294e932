import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { RunStoppedError } from "../models/control.js";
import { runOf } from "../nodes/runtime.js";

/**
 * For nodes that fan out (one task per seed, metadata or instruction). When such a task throws, LangGraph
 * aborts its siblings, and with `maxConcurrency` set, tasks it starts after that are recorded as finished
 * with no writes: a resumed run would silently skip them (LangGraph 1.7). So a node's error first stops
 * the run through the run's own control (nodes/runtime.ts), which aborts the graph from outside (that path records nothing for
 * unfinished tasks), then propagates. The run ends with the error and stays resumable.
 */
export function guarded<I, O>(node: (input: I, runnable: LangGraphRunnableConfig) => Promise<O>) {
  return async (input: I, runnable: LangGraphRunnableConfig): Promise<O> => {
    try {
      return await node(input, runnable);
    } catch (error) {
      if (!(error instanceof RunStoppedError) && !runnable?.signal?.aborted) {
        runOf(runnable).services.control.fail(error);
      }
      throw error;
    }
  };
}
