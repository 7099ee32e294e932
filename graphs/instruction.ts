import { END, START, StateGraph } from "@langchain/langgraph";
import { z } from "zod";
import { actionApply } from "../nodes/action-apply.js";
import { answer } from "../nodes/answer.js";
import { contrastiveJudge } from "../nodes/contrastive-judge.js";
import { afterActionApply, afterAnswer, afterJudge, startInstruction } from "./routes.js";
import { guarded } from "./guard.js";
import type { GraphDeps } from "../nodes/runtime.js";
import { buildInstructionState } from "../nodes/state.js";
import { InstructionTaskSchema } from "../lib/tasks.js";

/**
 * One basic instruction through Contrastive Filtering (§4.3), with Self-Rubrics improvement (§4.2):
 * answer -> contrastive-judge -> (|gap| <= θ and iterations left) action-apply -> answer -> ...
 * Each instruction runs as its own subgraph task, so a slow one holds back no other.
 * Ablation rows without filtering (Table 3): (action-apply ×N ->) answer, which keeps the strong answer unjudged.
 */
export function buildInstructionGraph(deps: GraphDeps, options: { lean?: boolean } = {}) {
  const state = buildInstructionState(options);
  return new StateGraph({
    state,
    input: z.object({ task: options.lean ? z.custom<z.infer<typeof InstructionTaskSchema>>() : InstructionTaskSchema }),
    output: state.pick({ outcomes: true, usage: true }),
  })
    .addNode("answer", guarded(deps, answer(deps)))
    .addNode("contrastive-judge", guarded(deps, contrastiveJudge(deps)))
    .addNode("action-apply", guarded(deps, actionApply(deps)))
    .addConditionalEdges(START, startInstruction, { basic: "answer", "improve first": "action-apply" })
    .addConditionalEdges("answer", afterAnswer, { judge: "contrastive-judge", "kept unjudged": END, failed: END })
    .addConditionalEdges("contrastive-judge", afterJudge, {
      improve: "action-apply",
      keep: END,
      drop: END,
      failed: END,
    })
    .addConditionalEdges("action-apply", afterActionApply, {
      improved: "answer",
      "improve again": "action-apply",
      failed: END,
    })
    // With a call journal, a resumed instruction replays its finished calls from the journal for free, so
    // per-step checkpoints of the subgraph (several per instruction) would only cost time and disk.
    .compile({ name: "instruction", ...(deps.services?.journal ? { checkpointer: false } : {}) });
}
