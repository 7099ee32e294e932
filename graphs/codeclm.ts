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
import { selfInstruct } from "../nodes/self-instruct.js";
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
 * with low-gap instructions looping through action-apply until the iteration cap. The ablation rows of
 * Table 3 take other paths: no-metadata goes prepare -> self-instruct -> schedule; metadata-only skips
 * rubric-generate; rows without filtering end each instruction in accept (see instruction.ts).
 */
export function createCodecGraph(options: CodecGraphOptions = {}) {
  const { retainRecords = true, checkpointer, ...deps } = options;
  const graph = new StateGraph(buildCodecState({ retainRecords }), CodecConfigSchema)
    .addNode("prepare", prepare)
    .addNode("encode", encode(deps))
    .addNode("self-instruct", selfInstruct(deps))
    .addNode("build-pool", buildPool(deps))
    .addNode("rubric-generate", rubricGenerate(deps))
    .addNode("decode", decode(deps))
    .addNode("schedule", schedule)
    .addNode("instruction", buildInstructionGraph(deps))
    .addNode("collect", collect)
    .addNode("finalize", finalize(deps))
    .addEdge(START, "prepare")
    .addConditionalEdges("prepare", afterPrepare, ["encode", "build-pool", "self-instruct"])
    .addEdge("encode", "build-pool")
    .addConditionalEdges("build-pool", afterBuildPool, ["rubric-generate", "decode", "finalize"])
    .addEdge("rubric-generate", "schedule")
    .addEdge("decode", "schedule")
    .addEdge("self-instruct", "schedule")
    .addConditionalEdges("schedule", dispatchWave, ["instruction", "collect"])
    .addEdge("instruction", "collect")
    .addConditionalEdges("collect", afterCollect, ["schedule", "decode", "self-instruct", "finalize"])
    .addEdge("finalize", END);
  return graph.compile({ checkpointer, name: "codeclm" }).withConfig({ recursionLimit: RECURSION_LIMIT });
}

export { actionApply };
