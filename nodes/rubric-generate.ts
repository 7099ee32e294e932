import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { type GraphDeps, callContext } from "./runtime.js";
import { type CodecUpdate } from "./state.js";
import { tallyOf } from "../lib/tasks.js";
import type { DroppedRecord, PoolEntry } from "../lib/records.js";
import { ModelCallError, callStructured } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";

export const RubricOutputSchema = z.object({
  rubrics: z.array(z.string()).describe("Criteria for judging how demanding an instruction is"),
  actions: z.array(z.string()).describe("One action per rubric that makes an instruction harder"),
});

const nonEmpty = (items: string[]) => items.map((item) => item.trim()).filter((item) => item !== "");

/** §4.2 Self-Rubrics: rubrics and matching actions, generated once per metadata and reused by every instruction of it. */
export function rubricGenerate(deps: GraphDeps) {
  return async (input: { entry: PoolEntry; runId?: string }, runnable: LangGraphRunnableConfig): Promise<CodecUpdate> => {
    const { entry } = input;
    const ctx = callContext(deps, runnable, { metadataId: entry.id });
    const { config } = ctx;
    try {
      const output = await callStructured(ctx, {
        role: "strong",
        step: "rubric-generate",
        temperature: config.temperatures.rubricGenerate,
        messages: [
          [
            "human",
            renderPrompt("rubricGenerate", config.prompts, {
              useCase: entry.useCase,
              skills: entry.skills.join(", "),
              count: config.rubricCount,
            }),
          ],
        ],
        schema: RubricOutputSchema,
        schemaName: "rubrics_and_actions",
        check: (value) => {
          const actions = nonEmpty(value.actions).length;
          return actions < config.rubricCount ? `expected ${config.rubricCount} actions, got ${actions}` : undefined;
        },
      });
      const rubricSet = {
        rubrics: nonEmpty(output.rubrics).slice(0, config.rubricCount),
        actions: nonEmpty(output.actions).slice(0, config.rubricCount),
      };
      return { rubrics: { [entry.id]: rubricSet }, usage: ctx.meter.totals };
    } catch (error) {
      if (!(error instanceof ModelCallError)) throw error;
      // The metadata's instructions can still be kept at iteration 1; any that need improving fail.
      const dropped: DroppedRecord[] = [
        {
          id: entry.id,
          kind: "metadata",
          reason: "failure",
          step: "rubric-generate",
          error: error.message,
          metadata: { useCase: entry.useCase, skills: entry.skills },
          runId: input.runId ?? "",
        },
      ];
      return {
        rubrics: { [entry.id]: { rubrics: [], actions: [] } },
        dropped,
        tally: tallyOf(dropped),
        usage: ctx.meter.totals,
      };
    }
  };
}
