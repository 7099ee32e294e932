import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { callContext } from "./runtime.js";
import { type CodecUpdate } from "./state.js";
import { attempt, droppedUpdate } from "./attempt.js";
import { normalizeMetadata } from "../lib/pool.js";
import type { Seed } from "../lib/records.js";
import { callStructured } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";

export const EncodeOutputSchema = z.object({
  use_case: z.string().describe("The task the instruction asks for"),
  skills: z.array(z.string()).describe("Skills needed to answer it, 2-3 words each"),
});

/** §4.1 Encode: one strong-model call turns a seed instruction into a use case and at most skillsMax skills. */
export async function encode(
  input: { seed: Seed; runId?: string },
  runtime: LangGraphRunnableConfig,
): Promise<CodecUpdate> {
  const { seed } = input;
  const ctx = callContext(runtime, { seedId: seed.id });
  const { config } = ctx;
  const result = await attempt(() =>
    callStructured(ctx, {
      role: "strong",
      step: "encode",
      temperature: config.temperatures.encode,
      messages: [
        [
          "human",
          renderPrompt("encode", config.prompts, { instruction: seed.instruction, skillsMax: config.skillsMax }),
        ],
      ],
      schema: EncodeOutputSchema,
      schemaName: "instruction_metadata",
      check: (value) => {
        const metadata = normalizeMetadata({ useCase: value.use_case, skills: value.skills }, config.skillsMax);
        if (metadata.useCase === "") return "empty use case";
        return metadata.skills.length === 0 ? "no skills" : undefined;
      },
    }),
  );
  if (!result.ok) {
    const { message } = result.error;
    return droppedUpdate(ctx, {
      id: seed.id,
      kind: "seed",
      reason: "failure",
      step: "encode",
      error: message,
      seed: seed.instruction,
      runId: input.runId ?? "",
    });
  }
  // More skills than skillsMax are cut to the first skillsMax (the prompt asks for at most that many).
  const metadata = normalizeMetadata({ useCase: result.value.use_case, skills: result.value.skills }, config.skillsMax);
  return { encoded: [{ seedId: seed.id, ...metadata }], usage: ctx.meter.totals };
}
