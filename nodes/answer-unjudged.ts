import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { callContext } from "./runtime.js";
import { attempt } from "./attempt.js";
import type { InstructionState } from "./state.js";
import type { InstructionOutcome } from "../lib/tasks.js";
import type { IterationRecord } from "../lib/records.js";
import { callText } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";
import { currentInstruction, failedOutcome } from "./instruction-outcome.js";

/**
 * The answer step of the ablation rows without Contrastive Filtering (Table 3, rows 1–3): the strong model
 * answers the instruction as it stands and the pair is kept, unjudged (no target answer, no scores).
 */
export async function answerUnjudged(
  state: InstructionState,
  runtime: LangGraphRunnableConfig,
): Promise<Partial<InstructionState>> {
  const instruction = currentInstruction(state);
  const ctx = callContext(runtime, {
    instructionId: state.task.id,
    iteration: state.iteration,
  });
  const result = await attempt(() =>
    callText(ctx, {
      role: "strong",
      step: "answer-strong",
      temperature: ctx.config.temperatures.answer,
      messages: [["human", renderPrompt("answer", ctx.config.prompts, { instruction })]],
    }),
  );
  if (!result.ok) {
    const { step, message } = result.error;
    return {
      instruction,
      verdict: "failed",
      outcomes: [failedOutcome({ ...state, instruction }, step, message)],
      usage: ctx.meter.totals,
    };
  }
  const strong = result.value;
  const record: IterationRecord = {
    iteration: state.iteration,
    instruction,
    ...(state.iteration > 1 && state.actions.length > 0 ? { action: state.actions.at(-1)! } : {}),
    answers: { strong },
  };
  const history = [...state.history, record];
  const outcome: InstructionOutcome = {
    task: state.task,
    status: "kept",
    source: "strong",
    instruction,
    actions: state.actions,
    history,
  };
  return {
    instruction,
    history,
    verdict: "keep",
    outcomes: [outcome],
    usage: ctx.meter.totals,
  };
}
