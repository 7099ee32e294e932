import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { callContext } from "./runtime.js";
import { type CodecUpdate } from "./state.js";
import { attempt, droppedUpdate } from "./attempt.js";
import type { InstructionTask } from "../lib/tasks.js";
import { type SelfInstructBatch, formatExamples } from "../lib/self-instruct.js";
import { callStructured } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";
import { DecodeOutputSchema, cleanInstructions, enoughInstructions, dispatchOrder } from "./decode.js";

/** What the graph sends to self-instruct for one call. */
export interface SelfInstructRequest extends SelfInstructBatch {
  runId?: string;
}

/** The instructions written from one batch of examples, as tasks of the batch. */
function selfInstructTasks(request: SelfInstructRequest, batchId: string, instructions: string[]): InstructionTask[] {
  const { round, batch, count, examples } = request;
  return cleanInstructions(
    instructions,
    examples.map((seed) => seed.instruction),
  )
    .slice(0, count)
    .map((basicInstruction, index) => ({
      id: `${batchId}-${index}`,
      order: dispatchOrder(round, index, batch),
      round,
      metadataId: batchId,
      metadataOrigin: "self-instruct",
      seedIds: examples.map((seed) => seed.id),
      metadata: { useCase: "", skills: [] },
      basicInstruction,
      actions: [],
    }));
}

/**
 * The `no-metadata` ablation (Table 3, first row): the strong model writes new instructions from a sample of
 * seed instructions shown as examples, Self-Instruct style. No metadata, so the instructions carry an empty
 * use case and no skills; the seeds shown are their lineage.
 */
export async function selfInstruct(
  request: SelfInstructRequest,
  runtime: LangGraphRunnableConfig,
): Promise<CodecUpdate> {
  const { round, batch, count, examples } = request;
  const ctx = callContext(runtime, { round, batch });
  const { config } = ctx;
  const batchId = `si-r${round}-b${batch}`;
  const result = await attempt(() =>
    callStructured(ctx, {
      role: "strong",
      step: "self-instruct",
      temperature: config.temperatures.decode,
      messages: [
        ["human", renderPrompt("selfInstruct", config.prompts, { examples: formatExamples(examples), count })],
      ],
      schema: DecodeOutputSchema,
      schemaName: "instructions",
      check: enoughInstructions(
        count,
        examples.map((seed) => seed.instruction),
      ),
    }),
  );
  if (!result.ok) {
    const record = {
      id: batchId,
      kind: "seed",
      reason: "failure",
      step: "self-instruct",
      error: result.error.message,
      seed: formatExamples(examples),
      runId: request.runId ?? "",
    } as const;
    return droppedUpdate(ctx, record, { round, requested: count });
  }
  const decoded = selfInstructTasks(request, batchId, result.value.instructions);
  return { decoded, decodedCount: decoded.length, requested: count, round, usage: ctx.meter.totals };
}
