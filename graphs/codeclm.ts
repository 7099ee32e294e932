import type { BaseCheckpointSaver, LangGraphRunnableConfig } from "@langchain/langgraph";
import { END, START, StateGraph } from "@langchain/langgraph";
import { CodecConfigSchema } from "../lib/config.js";
import type { InstructionTask } from "../lib/tasks.js";
import { actionApply } from "../nodes/action-apply.js";
import { buildPool } from "../nodes/build-pool.js";
import { collect } from "../nodes/collect.js";
import { decode } from "../nodes/decode.js";
import { dedupe } from "../nodes/dedupe.js";
import { encode } from "../nodes/encode.js";
import { finalize } from "../nodes/finalize.js";
import { prepare } from "../nodes/prepare.js";
import { reviewInstructions } from "../nodes/review-instructions.js";
import { reviewPool } from "../nodes/review-pool.js";
import { schedule } from "../nodes/schedule.js";
import { selfInstruct } from "../nodes/self-instruct.js";
import { guarded } from "./guard.js";
import { buildInstructionGraph, reportOutcomes } from "./instruction.js";
import { labelled } from "./labels.js";
import { allowAbortListenersForWaves } from "./listeners.js";
import { installStepRunner } from "./step-runner.js";
import { afterBuildPool, afterCollect, afterPrepare, dispatchWave } from "./routes.js";
import { type GraphDeps, runOf, withRun } from "../nodes/runtime.js";
import { type StateShape, codecStateSchema, graphSchema } from "../nodes/state.js";

export interface CodecGraphOptions extends GraphDeps {
  /** Keep kept pairs and drops in graph state (Studio, library); false streams them out only (CLI). */
  retainRecords?: boolean;
  checkpointer?: BaseCheckpointSaver;
}

/** Supersteps grow with waves and iterations; LangGraph's default limit of 25 is far too low. */
export const RECURSION_LIMIT = 10_000;

/**
 * CodecLM (Figure 2): seeds -> encode -> metadata pool (-> a person's review) -> decode -> Contrastive Filtering,
 * with low-gap instructions looping through Self-Rubrics (rubric-generate once per metadata, when first
 * needed, inside the instruction subgraph) and action-apply until the iteration cap. The ablation rows of
 * Table 3 take other paths: no-metadata goes prepare -> self-instruct -> schedule; metadata-only never
 * improves; rows without filtering keep the strong answer unjudged (see instruction.ts).
 */
export function createCodecGraph(options: CodecGraphOptions = {}) {
  const { retainRecords = true, checkpointer, ...deps } = options;
  allowAbortListenersForWaves();
  installStepRunner();
  const shape: StateShape = retainRecords ? "full" : "streaming";
  const state = codecStateSchema(shape);
  // The input is what a caller gives (Studio's input form shows exactly this); the rest is the run's.
  // A runner that read and sampled the seeds itself (runToFiles, streaming) also passes what it read.
  const input =
    shape === "streaming"
      ? state.pick({ seeds: true, seedSelection: true, metadata: true, runId: true })
      : state.pick({ seeds: true, metadata: true, runId: true });
  const graph = new StateGraph({
    state: graphSchema(state, shape),
    input: graphSchema(input, shape),
    context: CodecConfigSchema,
  })
    .addNode("prepare", prepare)
    .addNode("encode", guarded(encode))
    .addNode("self-instruct", guarded(selfInstruct))
    .addNode("build-pool", guarded(buildPool))
    .addNode("review-pool", reviewPool)
    .addNode("decode", guarded(decode))
    .addNode("dedupe", dedupe)
    .addNode("review-instructions", reviewInstructions)
    .addNode("schedule", schedule)
    .addNode("instruction", instructionNode(deps, shape))
    .addNode("collect", collect)
    .addNode("finalize", finalize)
    .addEdge(START, "prepare")
    .addConditionalEdges(
      labelled("prepare", afterPrepare, {
        encode: "each seed",
        "build-pool": "metadata given",
        "self-instruct": "no metadata (ablation)",
      }),
    )
    .addEdge("encode", "build-pool")
    // A person may look at the pool before anything is decoded (on with reviewPool; else it passes through).
    .addEdge("build-pool", "review-pool")
    .addConditionalEdges(
      labelled("review-pool", afterBuildPool, {
        decode: "each metadata",
        finalize: "empty pool",
      }),
    )
    // Instructions wait for the near-duplicate filter, so no wave starts before it.
    .addEdge("decode", "dedupe")
    .addEdge("self-instruct", "dedupe")
    // An optional look at the first round's basic instructions (reviewInstructions), before any is answered.
    .addEdge("dedupe", "review-instructions")
    .addEdge("review-instructions", "schedule")
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
  const compiled = ownRunPerInvocation(graph.compile({ checkpointer, name: "codeclm" }), deps);
  return compiled.withConfig({ recursionLimit: RECURSION_LIMIT });
}

/** The per-instruction work: the subgraph in process, or the deps' executor (a fleet of workers). */
function instructionNode(deps: GraphDeps, shape: StateShape) {
  const remote = deps.instructionExecutor;
  if (!remote) return buildInstructionGraph(deps, shape);
  return guarded(async (input: { task: InstructionTask; spare?: boolean }, config: LangGraphRunnableConfig) => {
    // Not sent to a worker if it can no longer take a place, or is a spare the wave never needed.
    if (!(await runOf(config).waves.mayStart(input.task.id, input.spare === true, config.signal)))
      return { outcomes: [] };
    const result = await remote(input.task, config);
    reportOutcomes(result.outcomes, config, true);
    return result;
  });
}

type StreamIterator = (input: unknown, options?: LangGraphRunnableConfig) => AsyncGenerator<unknown>;

/**
 * The one place a run is built when the caller passed none (`nodes/runtime.ts`, `withRun`): LangGraph
 * calls a compiled graph's `_streamIterator` once per invocation, whatever started it (`invoke`,
 * `stream`, `streamEvents`: the library, the dev server and Studio, this graph as a node of a parent
 * graph), so each invocation gets its own run: its own budget, scheduler, stop control and
 * near-duplicate index. Why here: the dev server and Studio can only send JSON settings, so the run's
 * services must be built on the server side of the call, and nodes must not build or cache them (two
 * runs with the same settings are still two runs). A caller that built the run (`runToFiles`, through
 * `deps.services`; or `configurable[RUN_KEY]`) keeps it. The override lives on a subclass, so
 * `withConfig` (which constructs `this.constructor`) keeps it.
 */
function ownRunPerInvocation<G extends object>(compiled: G, deps: GraphDeps): G {
  const base = Object.getPrototypeOf(compiled) as { constructor: new (...args: never[]) => object } & {
    _streamIterator: StreamIterator;
  };
  const iterate = base._streamIterator;
  class RunPerInvocation extends base.constructor {
    _streamIterator(input: unknown, options?: LangGraphRunnableConfig): AsyncGenerator<unknown> {
      return iterate.call(this, input, withRun(deps, options));
    }
  }
  Object.setPrototypeOf(compiled, RunPerInvocation.prototype);
  return compiled;
}

export { actionApply };
