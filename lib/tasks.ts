/** An instruction's trip through Contrastive Filtering: the task sent to filtering, how it ended, the running counts. */
import { z } from "zod";
import { type DroppedRecord, IterationRecordSchema, MetadataSchema, UsageCountsSchema } from "./records.js";

/** One basic instruction on its way through Contrastive Filtering: the payload sent to the instruction subgraph. */
export const InstructionTaskSchema = z.object({
  id: z.string(),
  order: z.number().describe("Position in the deterministic dispatch order"),
  round: z.number().describe("Decode round: 1, then top-up rounds"),
  metadataId: z.string(),
  metadataOrigin: z.enum(["seed", "user", "augmented", "self-instruct"]),
  seedIds: z.array(z.string()),
  metadata: MetadataSchema,
  basicInstruction: z.string(),
  actions: z.array(z.string()).describe("Self-Rubrics actions of the metadata; empty when rubric-generate failed"),
});
export type InstructionTask = z.infer<typeof InstructionTaskSchema>;

/** How one instruction ended; `collect` turns these into output records. */
export const InstructionOutcomeSchema = z.object({
  task: InstructionTaskSchema,
  status: z.enum(["kept", "dropped", "failed"]),
  source: z.enum(["strong", "target"]).optional(),
  instruction: z.string().describe("The last version of the instruction"),
  actions: z.array(z.string()).describe("Actions applied, in order"),
  history: z.array(IterationRecordSchema),
  failure: z.object({ step: z.string(), error: z.string() }).optional(),
  decidedBy: z.string().optional().describe("The worker that ran the filtering (--engine dbos)"),
});
export type InstructionOutcome = z.infer<typeof InstructionOutcomeSchema>;

export const RubricSetSchema = z.object({ rubrics: z.array(z.string()), actions: z.array(z.string()) });
export type RubricSet = z.infer<typeof RubricSetSchema>;

export const ProgressSchema = z.object({
  kept: z.number(),
  finished: z.number().describe("Instructions that left filtering (kept, dropped or failed)"),
  keptPerIteration: z.record(z.string(), z.number()).describe("Kept pairs by the iteration that kept them (Figure 3)"),
  reverseKept: z.number().describe("Pairs kept with the target's answer (gap < -theta)"),
  keptByMetadata: z
    .record(z.string(), z.number())
    .optional()
    .describe("Kept pairs by pool metadata id (the summary's tailoring measure)"),
  droppedByReason: z.record(z.string(), z.number()),
  failuresByStep: z.record(z.string(), z.number()),
  pastSize: z
    .number()
    .optional()
    .describe("Instructions filtered past the one that reached the size (spares, an overshooting wave): not written"),
});
export type Progress = z.infer<typeof ProgressSchema>;

export const emptyProgress = (): Progress => ({
  kept: 0,
  finished: 0,
  keptPerIteration: {},
  reverseKept: 0,
  keptByMetadata: {},
  droppedByReason: {},
  failuresByStep: {},
});

export const UsageTotalsSchema = z.object({
  byRole: z.record(z.string(), UsageCountsSchema),
  byStep: z.record(z.string(), UsageCountsSchema),
});

export function addTallies(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [key, value] of Object.entries(b)) out[key] = (out[key] ?? 0) + value;
  return out;
}

/** Counts for drops that happen before filtering: `dropped:<reason>` and `failed:<step>`. */
export function tallyOf(records: readonly DroppedRecord[]): Record<string, number> {
  let tally: Record<string, number> = {};
  for (const record of records) {
    tally = addTallies(tally, { [`dropped:${record.reason}`]: 1 });
    if (record.step && record.reason === "failure") tally = addTallies(tally, { [`failed:${record.step}`]: 1 });
  }
  return tally;
}
