import type { BaseCheckpointSaver } from "@langchain/langgraph";
import { END, START, StateGraph } from "@langchain/langgraph";
import { CodecConfigSchema } from "../lib/config.js";
import { actionApply } from "../nodes/action-apply.js";
import { buildPool } from "../nodes/build-pool.js";
import { collect } from "../nodes/collect.js";
import { decode } from "../nodes/decode.js";
import { dedupe } from "../nodes/dedupe.js";
import { encode } from "../nodes/encode.js";
import { finalize } from "../nodes/finalize.js";
import { prepare } from "../nodes/prepare.js";
import { rubricGenerate } from "../nodes/rubric-generate.js";
import { schedule } from "../nodes/schedule.js";
import { selfInstruct } from "../nodes/self-instruct.js";
import { guarded } from "./guard.js";
import { buildInstructionGraph } from "./instruction.js";
import { labelled } from "./labels.js";
import { allowAbortListenersForWaves } from "./listeners.js";
import { afterBuildPool, afterCollect, afterPrepare, dispatchWave } from "./routes.js";
import type { GraphDeps } from "../nodes/runtime.js";
import { buildCodecState } from "../nodes/state.js";

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
 * rubric-generate; rows without filtering keep the strong answer unjudged (see instruction.ts).
 */
export function createCodecGraph(options: CodecGraphOptions = {}) {
  const { retainRecords = true, checkpointer, ...deps } = options;
  allowAbortListenersForWaves();
  // A graph that streams its records out (the CLI) skips deep validation of its large internal channels.
  const lean = !retainRecords;
  const state = buildCodecState({ retainRecords, lean });
  // The input is what a caller gives (Studio's input form shows exactly this); the rest is the run's.
  // A runner that read and sampled the seeds itself (runToFiles, streaming) also passes what it read.
  const input = lean
    ? state.pick({ seeds: true, seedSelection: true, metadata: true, runId: true })
    : state.pick({ seeds: true, metadata: true, runId: true });
  const graph = new StateGraph({ state, input, context: CodecConfigSchema })
    .addNode("prepare", prepare)
    .addNode("encode", guarded(deps, encode(deps)))
    .addNode("self-instruct", guarded(deps, selfInstruct(deps)))
    .addNode("build-pool", guarded(deps, buildPool(deps)))
    .addNode("rubric-generate", guarded(deps, rubricGenerate(deps)))
    .addNode("decode", guarded(deps, decode(deps)))
    .addNode("dedupe", dedupe(deps))
    .addNode("schedule", schedule)
    .addNode("instruction", buildInstructionGraph(deps, { lean }))
    .addNode("collect", collect(deps))
    .addNode("finalize", finalize(deps))
    .addEdge(START, "prepare")
    .addConditionalEdges(
      labelled("prepare", afterPrepare, { encode: "each seed", "build-pool": "metadata given", "self-instruct": "no metadata (ablation)" }),
    )
    .addEdge("encode", "build-pool")
    .addConditionalEdges(
      labelled("build-pool", afterBuildPool, { "rubric-generate": "each metadata", decode: "basic instructions", finalize: "empty pool" }),
    )
    // Rubrics and instructions both wait for the near-duplicate filter, so no wave starts before it.
    .addEdge("rubric-generate", "dedupe")
    .addEdge("decode", "dedupe")
    .addEdge("self-instruct", "dedupe")
    .addEdge("dedupe", "schedule")
    .addConditionalEdges(labelled("schedule", dispatchWave, { instruction: "each instruction", collect: "empty wave" }))
    .addEdge("instruction", "collect")
    .addConditionalEdges(
      labelled("collect", afterCollect, {
        schedule: "next wave",
        decode: "top-up",
        "self-instruct": "top-up (no metadata)",
        finalize: "done",
      }),
    )
    .addEdge("finalize", END);
  return graph.compile({ checkpointer, name: "codeclm" }).withConfig({ recursionLimit: RECURSION_LIMIT });
}

export { actionApply };
