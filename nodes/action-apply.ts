import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { type GraphDeps, callContext } from "./runtime.js";
import type { InstructionState } from "./state.js";
import { pickAction } from "../lib/actions.js";
import { ModelCallError, callStructured } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";
import { currentInstruction, failedOutcome } from "./instruction-outcome.js";

export const ActionApplyOutputSchema = z.object({
  instruction: z.string().describe("The rewritten, more challenging instruction"),
});

/** §4.2: improve the instruction with one randomly sampled action of its metadata; the next iteration builds on it. */
export function actionApply(deps: GraphDeps) {
  return async (state: InstructionState, runnable: LangGraphRunnableConfig): Promise<Partial<InstructionState>> => {
    const previous = currentInstruction(state);
    const ctx = callContext(deps, runnable, { instructionId: state.task.id, iteration: state.iteration + 1 });
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
    try {
      const output = await callStructured(ctx, {
        role: "strong",
        step: "action-apply",
        temperature: config.temperatures.actionApply,
        messages: [
          [
            "human",
            renderPrompt("actionApply", config.prompts, {
              useCase: state.task.metadata.useCase,
              skills: state.task.metadata.skills.join(", "),
              instruction: previous,
              action,
            }),
          ],
        ],
        schema: ActionApplyOutputSchema,
        schemaName: "improved_instruction",
        check: (value) => {
          const text = value.instruction.trim();
          if (text === "") return "empty instruction";
          return text === previous.trim() ? "the instruction came back unchanged" : undefined;
        },
      });
      return {
        instruction: output.instruction.trim(),
        iteration: state.iteration + 1,
        actions: [...state.actions, action],
        answers: undefined,
        usage: ctx.meter.totals,
      };
    } catch (error) {
      if (!(error instanceof ModelCallError)) throw error;
      return {
        verdict: "failed",
        outcomes: [failedOutcome({ ...state, actions: [...state.actions, action] }, "action-apply", error.message)],
        usage: ctx.meter.totals,
      };
    }
  };
}
