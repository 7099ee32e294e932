import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { type GraphDeps, callContext, configOf } from "./runtime.js";
import { filters } from "../lib/ablation.js";
import type { InstructionState } from "./state.js";
import { ModelCallError, callText } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";
import { answerUnjudged } from "./answer-unjudged.js";
import { currentInstruction, failedOutcome } from "./instruction-outcome.js";

/**
 * §4.3: the strong and the target model both answer the current instruction (free text), concurrently.
 * In ablation rows without filtering only the strong model answers, and its answer is kept unjudged.
 */
export function answer(deps: GraphDeps) {
  const unjudged = answerUnjudged(deps);
  return async (state: InstructionState, runnable: LangGraphRunnableConfig): Promise<Partial<InstructionState>> => {
    if (!filters(configOf(runnable).ablation)) return unjudged(state, runnable);
    const instruction = currentInstruction(state);
    const ctx = callContext(deps, runnable, { instructionId: state.task.id, iteration: state.iteration });
    const prompt = renderPrompt("answer", ctx.config.prompts, { instruction });
    const ask = (role: "strong" | "target") =>
      callText(ctx, {
        role,
        step: role === "strong" ? "answer-strong" : "answer-target",
        temperature: ctx.config.temperatures.answer,
        messages: [["human", prompt]],
      });
    const [strong, target] = await Promise.allSettled([ask("strong"), ask("target")]);
    for (const settled of [strong, target]) {
      if (settled.status === "rejected") {
        const error = settled.reason;
        if (!(error instanceof ModelCallError)) throw error;
        return {
          instruction,
          verdict: "failed",
          outcomes: [failedOutcome({ ...state, instruction }, error.step, error.message)],
          usage: ctx.meter.totals,
        };
      }
    }
    return {
      instruction,
      answers: { strong: (strong as PromiseFulfilledResult<string>).value, target: (target as PromiseFulfilledResult<string>).value },
      usage: ctx.meter.totals,
    };
  };
}
