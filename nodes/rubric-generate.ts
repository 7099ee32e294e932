import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { callContext } from "./runtime.js";
import { type CodecUpdate } from "./state.js";
import { attempt, droppedUpdate } from "./attempt.js";
import type { PoolEntry } from "../lib/records.js";
import { callStructured } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";

export const RubricOutputSchema = z.object({
  rubrics: z.array(z.string()).describe("Criteria for judging how demanding an instruction is"),
  actions: z.array(z.string()).describe("One action per rubric that makes an instruction harder"),
});

const nonEmpty = (items: string[]) => items.map((item) => item.trim()).filter((item) => item !== "");

/** §4.2 Self-Rubrics: rubrics and matching actions, generated once per metadata and reused by every instruction of it. */
export async function rubricGenerate(
  input: { entry: PoolEntry; runId?: string },
  runtime: LangGraphRunnableConfig,
): Promise<CodecUpdate> {
  const { entry } = input;
  const ctx = callContext(runtime, { metadataId: entry.id });
  const { config } = ctx;
  const values = { useCase: entry.useCase, skills: entry.skills.join(", "), count: config.rubricCount };
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
  if (!result.ok) {
    // The metadata's instructions can still be kept at iteration 1; any that need improving fail.
    const metadata = { useCase: entry.useCase, skills: entry.skills };
    const record = {
      id: entry.id,
      kind: "metadata",
      reason: "failure",
      step: "rubric-generate",
      error: result.error.message,
      metadata,
      runId: input.runId ?? "",
    } as const;
    return droppedUpdate(ctx, record, { rubrics: { [entry.id]: { rubrics: [], actions: [] } } });
  }
  const rubricSet = {
    rubrics: nonEmpty(result.value.rubrics).slice(0, config.rubricCount),
    actions: nonEmpty(result.value.actions).slice(0, config.rubricCount),
  };
  return { rubrics: { [entry.id]: rubricSet }, usage: ctx.meter.totals };
}
