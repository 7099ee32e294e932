import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { callContext, runOf } from "./runtime.js";
import { filters } from "../lib/ablation.js";
import type { InstructionState } from "./state.js";
import { type ModelCallError, callText } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";
import { attempt } from "./attempt.js";
import { answerUnjudged } from "./answer-unjudged.js";
import { currentInstruction, failedOutcome } from "./instruction-outcome.js";

/**
 * §4.3: the strong and the target model both answer the current instruction (free text), concurrently.
 * In ablation rows without filtering only the strong model answers, and its answer is kept unjudged.
 */
export async function answer(
  state: InstructionState,
  runtime: LangGraphRunnableConfig,
): Promise<Partial<InstructionState>> {
  if (!filters(runOf(runtime).config.ablation)) return answerUnjudged(state, runtime);
  const instruction = currentInstruction(state);
  const ctx = callContext(runtime, { instructionId: state.task.id, iteration: state.iteration });
  const prompt = renderPrompt("answer", ctx.config.prompts, { instruction });
  const ask = (role: "strong" | "target") =>
    attempt(() =>
      callText(ctx, {
        role,
        step: role === "strong" ? "answer-strong" : "answer-target",
        temperature: ctx.config.temperatures.answer,
        messages: [["human", prompt]],
      }),
    );
  // Both calls finish (and are metered) before the node returns, whichever fails.
  const [strong, target] = await Promise.all([ask("strong"), ask("target")]);
  const failed = ({ step, message }: ModelCallError): Partial<InstructionState> => ({
    instruction,
    verdict: "failed",
    outcomes: [failedOutcome({ ...state, instruction }, step, message)],
    usage: ctx.meter.totals,
  });
  if (!strong.ok) return failed(strong.error);
  if (!target.ok) return failed(target.error);
  return { instruction, answers: { strong: strong.value, target: target.value }, usage: ctx.meter.totals };
}
