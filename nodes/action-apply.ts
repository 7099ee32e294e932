import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { callContext } from "./runtime.js";
import { attempt } from "./attempt.js";
import type { InstructionState } from "./state.js";
import { pickAction } from "../lib/actions.js";
import { type CallContext, callStructured } from "../models/call.js";
import type { InstructionTask } from "../lib/tasks.js";
import { renderPrompt } from "../prompts/index.js";
import { currentInstruction, failedOutcome } from "./instruction-outcome.js";

export const ActionApplyOutputSchema = z.object({
  instruction: z.string().describe("The rewritten, more challenging instruction"),
});

/** One strong-model call that rewrites `previous` with `action`; an empty or unchanged reply is malformed. */
function improve(ctx: CallContext, task: InstructionTask, previous: string, action: string) {
  const { config } = ctx;
  const values = {
    useCase: task.metadata.useCase,
    skills: task.metadata.skills.join(", "),
    instruction: previous,
    action,
  };
  return callStructured(ctx, {
    role: "strong",
    step: "action-apply",
    temperature: config.temperatures.actionApply,
    messages: [["human", renderPrompt("actionApply", config.prompts, values)]],
    schema: ActionApplyOutputSchema,
    schemaName: "improved_instruction",
    check: (value) => {
      const text = value.instruction.trim();
      if (text === "") return "empty instruction";
      return text === previous.trim() ? "the instruction came back unchanged" : undefined;
    },
  });
}

/** §4.2: improve the instruction with one randomly sampled action of its metadata; the next iteration builds on it. */
export async function actionApply(
  state: InstructionState,
  runtime: LangGraphRunnableConfig,
): Promise<Partial<InstructionState>> {
  const previous = currentInstruction(state);
  const ctx = callContext(runtime, { instructionId: state.task.id, iteration: state.iteration + 1 });
  const { config } = ctx;
  if (state.task.actions.length === 0) {
    const error = "no actions to apply: rubric-generate failed for this metadata";
    return { verdict: "failed", outcomes: [failedOutcome(state, "rubric-generate", error)] };
  }
  const action = pickAction(state.task.actions, {
    seed: config.seed,
    instructionId: state.task.id,
    improvement: state.iteration - 1,
    sampling: config.actionSampling,
  });
  const result = await attempt(() => improve(ctx, state.task, previous, action));
  const actions = [...state.actions, action];
  const usage = ctx.meter.totals;
  if (!result.ok)
    return {
      verdict: "failed",
      outcomes: [failedOutcome({ ...state, actions }, "action-apply", result.error.message)],
      usage,
    };
  return {
    instruction: result.value.instruction.trim(),
    iteration: state.iteration + 1,
    actions,
    answers: undefined,
    usage,
  };
}
