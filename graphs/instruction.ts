import { END, START, StateGraph } from "@langchain/langgraph";
import { actionApply } from "../nodes/action-apply.js";
import { answer } from "../nodes/answer.js";
import { contrastiveJudge } from "../nodes/contrastive-judge.js";
import { rubricGenerate } from "../nodes/rubric-generate.js";
import { afterActionApply, afterAnswer, afterJudge, afterRubrics, startInstruction } from "./routes.js";
import { guarded } from "./guard.js";
import type { GraphDeps } from "../nodes/runtime.js";
import { type StateShape, graphSchema, instructionStateSchema } from "../nodes/state.js";

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
      input: graphSchema(state.pick({ task: true }), shape),
      output: graphSchema(state.pick({ outcomes: true, usage: true }), shape),
    })
      .addNode("answer", guarded(answer))
      .addNode("contrastive-judge", guarded(contrastiveJudge))
      .addNode("rubric-generate", guarded(rubricGenerate))
      .addNode("action-apply", guarded(actionApply))
      .addConditionalEdges(START, startInstruction, {
        basic: "answer",
        "improve first": "action-apply",
        "rubrics first": "rubric-generate",
      })
      .addConditionalEdges("answer", afterAnswer, { judge: "contrastive-judge", "kept unjudged": END, failed: END })
      .addConditionalEdges("contrastive-judge", afterJudge, {
        improve: "action-apply",
        "first improvement": "rubric-generate",
        keep: END,
        drop: END,
        failed: END,
      })
      .addConditionalEdges("rubric-generate", afterRubrics, { "actions ready": "action-apply", failed: END })
      .addConditionalEdges("action-apply", afterActionApply, {
        improved: "answer",
        "improve again": "action-apply",
        failed: END,
      })
      // With a call journal, a resumed instruction replays its finished calls from the journal for free, so
      // per-step checkpoints of the subgraph (several per instruction) would only cost time and disk.
      .compile({ name: "instruction", ...(deps.services?.journal ? { checkpointer: false } : {}) })
  );
}
