import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { callContext } from "./runtime.js";
import { attempt } from "./attempt.js";
import type { InstructionState } from "./state.js";
import type { InstructionOutcome } from "../lib/tasks.js";
import type { IterationRecord, RawScores } from "../lib/records.js";
import { averageScores, checkScore, nextStep, verdictFor } from "../lib/scoring.js";
import { type CallContext, type ModelCallError, callStructured } from "../models/call.js";
import { judgePromptValues } from "../prompts/contrastive-judge.js";
import { renderPrompt } from "../prompts/index.js";
import { currentInstruction, failedOutcome } from "./instruction-outcome.js";

export const JudgeOutputSchema = z.object({
  assistant1: z.number().describe("Score of Assistant 1's answer, 1-10"),
  assistant2: z.number().describe("Score of Assistant 2's answer, 1-10"),
});

function score(ctx: CallContext, instruction: string, answer1: string, answer2: string) {
  return callStructured(ctx, {
    role: "judge",
    step: "judge",
    temperature: ctx.config.temperatures.judge,
    messages: [["human", renderPrompt("judge", ctx.config.prompts, judgePromptValues(instruction, answer1, answer2))]],
    schema: JudgeOutputSchema,
    schemaName: "pairwise_scores",
    check: (value) => checkScore(value.assistant1) ?? checkScore(value.assistant2),
  });
}

/**
 * §4.3 Contrastive Filtering: the judge scores both answers twice, positions swapped, and each model's
 * two scores are averaged. A gap beyond ±θ keeps the instruction; within it, the instruction is improved
 * until the iteration cap, then dropped.
 */
export async function contrastiveJudge(
  state: InstructionState,
  runtime: LangGraphRunnableConfig,
): Promise<Partial<InstructionState>> {
  const instruction = currentInstruction(state);
  const answers = state.answers!;
  const ctx = callContext(runtime, { instructionId: state.task.id, iteration: state.iteration });
  // Both orders finish (and are metered) before the node returns, whichever fails.
  const [strongFirst, targetFirst] = await Promise.all([
    attempt(() => score(ctx, instruction, answers.strong, answers.target)),
    attempt(() => score(ctx, instruction, answers.target, answers.strong)),
  ]);
  const failed = (error: ModelCallError): Partial<InstructionState> => ({
    verdict: "failed",
    outcomes: [failedOutcome(state, "judge", error.message)],
    usage: ctx.meter.totals,
  });
  if (!strongFirst.ok) return failed(strongFirst.error);
  if (!targetFirst.ok) return failed(targetFirst.error);
  const raw: RawScores = {
    strongFirst: { strong: strongFirst.value.assistant1, target: strongFirst.value.assistant2 },
    targetFirst: { strong: targetFirst.value.assistant2, target: targetFirst.value.assistant1 },
  };
  const scores = averageScores(raw);
  const record: IterationRecord = {
    iteration: state.iteration,
    instruction,
    ...(state.iteration > 1 && state.actions.length > 0 ? { action: state.actions.at(-1)! } : {}),
    answers,
    rawScores: raw,
    scores,
  };
  const history = [...state.history, record];
  const verdict = verdictFor(scores.gap, ctx.config.theta);
  const next = nextStep(verdict, state.iteration, ctx.config.maxIterations);
  if (next === "action-apply") return { history, verdict: next, usage: ctx.meter.totals };
  const outcome: InstructionOutcome = {
    task: state.task,
    status: next === "keep" ? "kept" : "dropped",
    ...(verdict === "keep-strong"
      ? { source: "strong" as const }
      : verdict === "keep-target"
        ? { source: "target" as const }
        : {}),
    instruction,
    actions: state.actions,
    history,
  };
  return { history, verdict: next, outcomes: [outcome], usage: ctx.meter.totals };
}
