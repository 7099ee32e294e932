import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { type GraphDeps, callContext } from "./runtime.js";
import { type CodecUpdate } from "./state.js";
import { tallyOf } from "../lib/tasks.js";
import { normalizeMetadata } from "../lib/pool.js";
import type { DroppedRecord, Seed } from "../lib/records.js";
import { ModelCallError, callStructured } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";

export const EncodeOutputSchema = z.object({
  use_case: z.string().describe("The task the instruction asks for"),
  skills: z.array(z.string()).describe("Skills needed to answer it, 2-3 words each"),
});

/** §4.1 Encode: one strong-model call turns a seed instruction into a use case and at most skillsMax skills. */
export function encode(deps: GraphDeps) {
  return async (input: { seed: Seed; runId?: string }, runnable: LangGraphRunnableConfig): Promise<CodecUpdate> => {
    const { seed } = input;
    const ctx = callContext(deps, runnable, { seedId: seed.id });
    const { config } = ctx;
    try {
      const output = await callStructured(ctx, {
        role: "strong",
        step: "encode",
        temperature: config.temperatures.encode,
        messages: [["human", renderPrompt("encode", config.prompts, { instruction: seed.instruction, skillsMax: config.skillsMax })]],
        schema: EncodeOutputSchema,
        schemaName: "instruction_metadata",
        check: (value) => {
          const metadata = normalizeMetadata({ useCase: value.use_case, skills: value.skills }, config.skillsMax);
          if (metadata.useCase === "") return "empty use case";
          return metadata.skills.length === 0 ? "no skills" : undefined;
        },
      });
      // More skills than skillsMax are cut to the first skillsMax (the prompt asks for at most that many).
      const metadata = normalizeMetadata({ useCase: output.use_case, skills: output.skills }, config.skillsMax);
      return { encoded: [{ seedId: seed.id, ...metadata }], usage: ctx.meter.totals };
    } catch (error) {
      if (!(error instanceof ModelCallError)) throw error;
      const dropped: DroppedRecord[] = [
        {
          id: seed.id,
          kind: "seed",
          reason: "failure",
          step: "encode",
          error: error.message,
          seed: seed.instruction,
          runId: input.runId ?? "",
        },
      ];
      return { dropped, tally: tallyOf(dropped), usage: ctx.meter.totals };
    }
  };
}
