import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { type CodecRun, callContext, runOf } from "./runtime.js";
import { type Attempt, attempt } from "./attempt.js";
import type { InstructionState } from "./state.js";
import { failedOutcome } from "./instruction-outcome.js";
import type { Metadata } from "../lib/records.js";
import type { RubricSet } from "../lib/tasks.js";
import { type CallContext, callStructured } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";

export const RubricOutputSchema = z.object({
  rubrics: z.array(z.string()).describe("Criteria for judging how demanding an instruction is"),
  actions: z.array(z.string()).describe("One action per rubric that makes an instruction harder"),
});

const nonEmpty = (items: string[]) => items.map((item) => item.trim()).filter((item) => item !== "");

/** §4.2 Self-Rubrics: one strong-model call for a metadata's rubrics and matching actions. */
export async function generateRubrics(ctx: CallContext, metadata: Metadata): Promise<Attempt<RubricSet>> {
  const { config } = ctx;
  const values = { useCase: metadata.useCase, skills: metadata.skills.join(", "), count: config.rubricCount };
  const result = await attempt(() =>
    callStructured(ctx, {
      role: "strong",
      step: "rubric-generate",
      temperature: config.temperatures.rubricGenerate,
      messages: [["human", renderPrompt("rubricGenerate", config.prompts, values)]],
      schema: RubricOutputSchema,
      schemaName: "rubrics_and_actions",
      check: (value) => {
        const actions = nonEmpty(value.actions).length;
        return actions < config.rubricCount ? `expected ${config.rubricCount} actions, got ${actions}` : undefined;
      },
    }),
  );
  if (!result.ok) return result;
  return {
    ok: true,
    value: {
      rubrics: nonEmpty(result.value.rubrics).slice(0, config.rubricCount),
      actions: nonEmpty(result.value.actions).slice(0, config.rubricCount),
    },
  };
}

/**
 * Each metadata's rubrics, once per run: the first instruction that needs them makes the call (its usage
 * is that instruction's), the others of the metadata wait for the same answer. A resumed run starts
 * empty and the call journal replays the call.
 */
const rubricsByRun = new WeakMap<CodecRun, Map<string, Promise<Attempt<RubricSet>>>>();

function rubricsOf(run: CodecRun): Map<string, Promise<Attempt<RubricSet>>> {
  let rubrics = rubricsByRun.get(run);
  if (!rubrics) rubricsByRun.set(run, (rubrics = new Map()));
  return rubrics;
}

/**
 * §4.2 Self-Rubrics, when first needed: an instruction about to be improved gets its metadata's actions,
 * generated once per metadata and reused by every instruction of it. An instruction kept at its first
 * pass never pays for them. When the call fails for good, the metadata's instructions that need an action
 * fail (step rubric-generate); those kept at iteration 1 are unaffected.
 */
export async function rubricGenerate(
  state: InstructionState,
  runtime: LangGraphRunnableConfig,
): Promise<Partial<InstructionState>> {
  const { task } = state;
  const ctx = callContext(runtime, { metadataId: task.metadataId });
  const rubrics = rubricsOf(runOf(runtime));
  let result = rubrics.get(task.metadataId);
  if (!result) {
    result = generateRubrics(ctx, task.metadata);
    rubrics.set(task.metadataId, result);
    // A run stopped mid-call (not a failure for good) lets a later instruction try again.
    result.catch(() => rubrics.delete(task.metadataId));
  }
  const rubricSet = await result;
  const usage = ctx.meter.totals;
  if (!rubricSet.ok)
    return {
      verdict: "failed",
      outcomes: [failedOutcome(state, "rubric-generate", rubricSet.error.message)],
      usage,
    };
  return { task: { ...task, actions: rubricSet.value.actions }, usage };
}
