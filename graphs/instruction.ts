import { END, type LangGraphRunnableConfig, START, StateGraph } from "@langchain/langgraph";
import { actionApply } from "../nodes/action-apply.js";
import { answer } from "../nodes/answer.js";
import { contrastiveJudge } from "../nodes/contrastive-judge.js";
import { rubricGenerate } from "../nodes/rubric-generate.js";
import { admitInstruction, afterActionApply, afterAnswer, afterJudge, afterRubrics } from "./routes.js";
import { guarded } from "./guard.js";
import { type GraphDeps, runOf } from "../nodes/runtime.js";
import type { InstructionOutcome } from "../lib/tasks.js";
import { stageRepeatCheck } from "../lib/outcomes.js";
import { type InstructionState, type StateShape, graphSchema, instructionStateSchema } from "../nodes/state.js";

/**
 * One basic instruction through Contrastive Filtering (§4.3), with Self-Rubrics improvement (§4.2):
 * answer -> contrastive-judge -> (|gap| <= θ and iterations left) [rubric-generate, once per metadata,
 * when first needed] -> action-apply -> answer -> ...
 * Each instruction runs as its own subgraph task, so a slow one holds back no other.
 * Ablation rows without filtering (Table 3): (action-apply ×N ->) answer, which keeps the strong answer unjudged.
 */
export function buildInstructionGraph(deps: GraphDeps, shape: StateShape = "full") {
  const state = instructionStateSchema(shape);
  return (
    new StateGraph({
      state: graphSchema(state, shape),
      input: graphSchema(state.pick({ task: true, spare: true }), shape),
      output: graphSchema(state.pick({ outcomes: true, usage: true }), shape),
    })
      .addNode("answer", reported(answer))
      .addNode("contrastive-judge", reported(contrastiveJudge))
      .addNode("rubric-generate", reported(rubricGenerate))
      .addNode("action-apply", reported(actionApply))
      .addConditionalEdges(START, admitInstruction, {
        "not needed": END,
        basic: "answer",
        "improve first": "action-apply",
        "rubrics first": "rubric-generate",
      })
      .addConditionalEdges("answer", afterAnswer, {
        judge: "contrastive-judge",
        "kept unjudged": END,
        failed: END,
        "not needed": END,
      })
      .addConditionalEdges("contrastive-judge", afterJudge, {
        improve: "action-apply",
        "first improvement": "rubric-generate",
        keep: END,
        drop: END,
        failed: END,
        "not needed": END,
      })
      .addConditionalEdges("rubric-generate", afterRubrics, {
        "actions ready": "action-apply",
        failed: END,
        "not needed": END,
      })
      .addConditionalEdges("action-apply", afterActionApply, {
        improved: "answer",
        "improve again": "action-apply",
        failed: END,
        "not needed": END,
      })
      // With a call journal, a resumed instruction replays its finished calls from the journal for free, so
      // per-step checkpoints of the subgraph (several per instruction) would only cost time and disk.
      .compile({ name: "instruction", ...(deps.services?.journal ? { checkpointer: false } : {}) })
  );
}

type NodeUpdate = { outcomes?: InstructionOutcome[]; verdict?: InstructionState["verdict"] };

/**
 * A subgraph node guarded like any fan-out node, whose judgments and outcomes (the instruction's end) the
 * run's wave gate counts: it starts a wave's spares when the wave needs them.
 */
export function reported<O extends NodeUpdate>(
  node: (input: InstructionState, runnable: LangGraphRunnableConfig) => Promise<O>,
) {
  const inner = guarded(node);
  return async (input: InstructionState, runnable: LangGraphRunnableConfig): Promise<O> => {
    const update = await inner(input, runnable);
    const { verdict } = update;
    if (verdict === "keep" || verdict === "action-apply" || verdict === "drop")
      runOf(runnable).waves.judged(input.task.id, input.iteration, verdict === "keep");
    if (update.outcomes?.length) reportOutcomes(update.outcomes, runnable, false);
    return update;
  };
}

/**
 * Tells the wave gate how instructions ended; `replay` also tells it their judgments, for outcomes of
 * filtering done elsewhere (a fleet worker), whose judgments the gate did not see as they happened.
 */
export function reportOutcomes(
  outcomes: readonly InstructionOutcome[],
  runnable: LangGraphRunnableConfig,
  replay: boolean,
): void {
  const { waves, dedupe } = runOf(runnable);
  if (dedupe.finals) stageRepeatCheck(dedupe.finals, dedupe.index, dedupe.primed, outcomes);
  for (const outcome of outcomes) {
    const kept = outcome.status === "kept";
    if (replay)
      outcome.history.forEach((pass, index) => {
        if (pass.scores) waves.judged(outcome.task.id, pass.iteration, kept && index === outcome.history.length - 1);
      });
    waves.finished(outcome.task.id, kept);
  }
}
