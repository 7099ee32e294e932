import { END, START, StateGraph } from "@langchain/langgraph";
import { z } from "zod";
import { actionApply } from "../nodes/action-apply.js";
import { answer } from "../nodes/answer.js";
import { contrastiveJudge } from "../nodes/contrastive-judge.js";
import { afterActionApply, afterAnswer, afterJudge } from "./routes.js";
import type { GraphDeps } from "./runtime.js";
import { InstructionStateSchema, InstructionTaskSchema } from "./state.js";

/**
 * One basic instruction through Contrastive Filtering (§4.3), with Self-Rubrics improvement (§4.2):
 * answer -> contrastive-judge -> (|gap| <= θ and iterations left) action-apply -> answer -> ...
 * Each instruction runs as its own subgraph task, so a slow one holds back no other.
 */
export function buildInstructionGraph(deps: GraphDeps) {
  return new StateGraph({
    state: InstructionStateSchema,
    input: z.object({ task: InstructionTaskSchema }),
    output: InstructionStateSchema.pick({ outcomes: true, usage: true }),
  })
    .addNode("answer", answer(deps))
    .addNode("contrastive-judge", contrastiveJudge(deps))
    .addNode("action-apply", actionApply(deps))
    .addEdge(START, "answer")
    .addConditionalEdges("answer", afterAnswer, { judge: "contrastive-judge", failed: END })
    .addConditionalEdges("contrastive-judge", afterJudge, {
      improve: "action-apply",
      keep: END,
      drop: END,
      failed: END,
    })
    .addConditionalEdges("action-apply", afterActionApply, { answer: "answer", failed: END })
    // With a call journal, a resumed instruction replays its finished calls from the journal for free, so
    // per-step checkpoints of the subgraph (several per instruction) would only cost time and disk.
    .compile({ name: "instruction", ...(deps.services?.journal ? { checkpointer: false } : {}) });
}
