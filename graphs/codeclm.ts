import type { BaseCheckpointSaver } from "@langchain/langgraph";
import { END, START, StateGraph } from "@langchain/langgraph";
import { CodecConfigSchema } from "../lib/config.js";
import { actionApply } from "../nodes/action-apply.js";
import { buildPool } from "../nodes/build-pool.js";
import { collect } from "../nodes/collect.js";
import { decode } from "../nodes/decode.js";
import { encode } from "../nodes/encode.js";
import { finalize } from "../nodes/finalize.js";
import { prepare } from "../nodes/prepare.js";
import { rubricGenerate } from "../nodes/rubric-generate.js";
import { schedule } from "../nodes/schedule.js";
import { guarded } from "./guard.js";
import { buildInstructionGraph } from "./instruction.js";
import { afterBuildPool, afterCollect, afterPrepare, dispatchWave } from "./routes.js";
import type { GraphDeps } from "./runtime.js";
import { buildCodecState } from "./state.js";

export interface CodecGraphOptions extends GraphDeps {
  /** Keep kept pairs and drops in graph state (Studio, library); false streams them out only (CLI). */
  retainRecords?: boolean;
  checkpointer?: BaseCheckpointSaver;
}

/** Supersteps grow with waves and iterations; LangGraph's default limit of 25 is far too low. */
export const RECURSION_LIMIT = 10_000;

/**
 * CodecLM (Figure 2): seeds -> encode -> metadata pool -> decode + Self-Rubrics -> Contrastive Filtering,
 * with low-gap instructions looping through action-apply until the iteration cap.
 */
export function createCodecGraph(options: CodecGraphOptions = {}) {
  const { retainRecords = true, checkpointer, ...deps } = options;
  // A graph that streams its records out (the CLI) skips deep validation of its large internal channels.
  const lean = !retainRecords;
  const graph = new StateGraph(buildCodecState({ retainRecords, lean }), CodecConfigSchema)
    .addNode("prepare", prepare)
    .addNode("encode", guarded(deps, encode(deps)))
    .addNode("build-pool", guarded(deps, buildPool(deps)))
    .addNode("rubric-generate", guarded(deps, rubricGenerate(deps)))
    .addNode("decode", guarded(deps, decode(deps)))
    .addNode("schedule", schedule)
    .addNode("instruction", buildInstructionGraph(deps, { lean }))
    .addNode("collect", collect)
    .addNode("finalize", finalize(deps))
    .addEdge(START, "prepare")
    .addConditionalEdges("prepare", afterPrepare, ["encode", "build-pool"])
    .addEdge("encode", "build-pool")
    .addConditionalEdges("build-pool", afterBuildPool, ["rubric-generate", "decode", "finalize"])
    .addEdge("rubric-generate", "schedule")
    .addEdge("decode", "schedule")
    .addConditionalEdges("schedule", dispatchWave, ["instruction", "collect"])
    .addEdge("instruction", "collect")
    .addConditionalEdges("collect", afterCollect, ["schedule", "decode", "finalize"])
    .addEdge("finalize", END);
  return graph.compile({ checkpointer, name: "codeclm" }).withConfig({ recursionLimit: RECURSION_LIMIT });
}

export { actionApply };
