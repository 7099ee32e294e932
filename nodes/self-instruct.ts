import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { type GraphDeps, callContext } from "./runtime.js";
import { type CodecUpdate } from "./state.js";
import { type InstructionTask, tallyOf } from "../lib/tasks.js";
import type { DroppedRecord } from "../lib/records.js";
import { type SelfInstructBatch, formatExamples } from "../lib/self-instruct.js";
import { ModelCallError, callStructured } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";
import { DecodeOutputSchema, cleanInstructions, enoughInstructions, dispatchOrder } from "./decode.js";

/** What the graph sends to self-instruct for one call. */
export interface SelfInstructRequest extends SelfInstructBatch {
  runId?: string;
}

/**
 * The `no-metadata` ablation (Table 3, first row): the strong model writes new instructions from a sample of
 * seed instructions shown as examples, Self-Instruct style. No metadata, so the instructions carry an empty
 * use case and no skills; the seeds shown are their lineage.
 */
export function selfInstruct(deps: GraphDeps) {
  return async (request: SelfInstructRequest, runnable: LangGraphRunnableConfig): Promise<CodecUpdate> => {
    const { round, batch, count, examples } = request;
    const ctx = callContext(deps, runnable, { round, batch });
    const { config } = ctx;
    const avoid = examples.map((seed) => seed.instruction);
    const batchId = `si-r${round}-b${batch}`;
    try {
      const output = await callStructured(ctx, {
        role: "strong",
        step: "self-instruct",
        temperature: config.temperatures.decode,
        messages: [["human", renderPrompt("selfInstruct", config.prompts, { examples: formatExamples(examples), count })]],
        schema: DecodeOutputSchema,
        schemaName: "instructions",
        check: enoughInstructions(count, avoid),
      });
      const decoded: InstructionTask[] = cleanInstructions(output.instructions, avoid)
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
      return {
        decoded,
        decodedCount: decoded.length,
        requested: count,
        round,
        usage: ctx.meter.totals,
      };
    } catch (error) {
      if (!(error instanceof ModelCallError)) throw error;
      const dropped: DroppedRecord[] = [
        {
          id: batchId,
          kind: "seed",
          reason: "failure",
          step: "self-instruct",
          error: error.message,
          seed: formatExamples(examples),
          runId: request.runId ?? "",
        },
      ];
      return { round, requested: count, dropped, tally: tallyOf(dropped), usage: ctx.meter.totals };
    }
  };
}
