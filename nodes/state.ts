import { registry, schemaMetaRegistry } from "@langchain/langgraph/zod";
import { z } from "zod";
import type { EncodedSeed } from "../lib/pool.js";
import { SeedSelectionSchema } from "../lib/seed-sample.js";
import {
  type DroppedRecord,
  DroppedRecordSchema,
  type IterationRecord,
  IterationRecordSchema,
  type KeptPair,
  KeptPairSchema,
  MetadataSchema,
  type PoolEntry,
  PoolEntrySchema,
  SeedSchema,
} from "../lib/records.js";
import {
  type InstructionTask,
  InstructionTaskSchema,
  InstructionOutcomeSchema,
  ProgressSchema,
  UsageTotalsSchema,
  addTallies,
  emptyProgress,
} from "../lib/tasks.js";
import { emptyUsage, mergeUsage } from "../lib/usage.js";

const append = <T>(a: T[], b: T[]): T[] => a.concat(b);

/** Earlier instructions per metadata shown to decode as its "avoid" list (a prompt, so bounded; the near-duplicate filter sees every instruction). */
export const RECENT_LIMIT = 20;
function keepRecent(a: Record<string, string[]>, b: Record<string, string[]>): Record<string, string[]> {
  const out = { ...a };
  for (const [id, items] of Object.entries(b)) out[id] = [...(out[id] ?? []), ...items].slice(-RECENT_LIMIT);
  return out;
}
const forget = (): never[] => [];

/**
 * The two shapes a graph's state takes, chosen by who reads the results:
 * - `full` (Studio, the dev server, the library): kept pairs and drops accumulate in state, and every
 *   channel is validated on each update (Studio shows these schemas).
 * - `streaming` (the CLI's `runToFiles`, fleet workers): kept pairs and drops only pass through as node
 *   updates, which the writer streams to files, so memory stays flat; the graph is built from the state's
 *   channels, not its schema, so no update is validated (`graphSchema`), and the large internal channels
 *   (instructions, outcomes, records) are only typed. The input also takes `seedSelection`, what the
 *   runner's reader already chose.
 */
export type StateShape = "full" | "streaming";

interface ShapeRules {
  /** How kept pairs and drops reach state: accumulated, or forgotten once streamed out. */
  records: <T>(a: T[], b: T[]) => T[];
  /** A large internal channel's schema: checked on each update, or only typed (same static type either way). */
  channel: <T extends z.ZodType>(schema: T) => T;
}

const SHAPES: Record<StateShape, ShapeRules> = {
  full: { records: append, channel: (schema) => schema },
  streaming: { records: forget, channel: <T extends z.ZodType>(_schema: T) => z.custom<z.infer<T>>() as unknown as T },
};

/**
 * What a graph of this shape is built from (its state, input or output). `full`: the zod schema itself
 * (Studio shows it, and LangGraph validates every node's update against it). `streaming`: the schema's
 * channels (the reducers and defaults its registry entries give), so LangGraph validates no update: for a
 * zod state it builds two partial schemas of the whole state for every update of every node, to check
 * values codeclm's own nodes produced: about a sixth of the CLI's CPU per call at concurrency 128 (bench
 * (g): 1.85–1.89 ms per call with it, 1.47–1.58 without). Typed as the schema either way: the graph's
 * types come from the schema, its channels are the same.
 */
export function graphSchema<T extends z.ZodObject>(schema: T, shape: StateShape): T {
  if (shape === "full") return schema;
  return schemaMetaRegistry.getChannelsForSchema(schema) as unknown as T;
}

/** The parent graph's state in one of its shapes (see `StateShape`). */
export function codecStateSchema(shape: StateShape) {
  const { records, channel: checked } = SHAPES[shape];
  return z.object({
    seeds: z
      .array(SeedSchema)
      .optional()
      .describe(
        "Seed instructions from the target distribution; after prepare, the seeds used (identical ones merged, sampled)",
      ),
    seedSelection: SeedSelectionSchema.optional().describe(
      "How the seeds used were chosen (read, identical ones merged, sampled): given by a reader that already chose them (the CLI), else set by prepare",
    ),
    metadata: z
      .array(MetadataSchema)
      .optional()
      .describe("User-written metadata (use case + skills), instead of seeds"),
    runId: z.string().optional().describe("Identifies the run in outputs and traces; generated when absent"),
    startedAt: z.number().optional(),
    encoded: z
      .array(MetadataSchema.extend({ seedId: z.string() }) satisfies z.ZodType<EncodedSeed>)
      .describe("Metadata encoded from each seed")
      .register(registry, { reducer: { fn: append }, default: () => [] }),
    pool: z
      .array(PoolEntrySchema)
      .describe("The metadata pool after mix-and-match")
      .register(registry, { default: () => [] }),
    poolStats: z
      .record(z.string(), z.number())
      .describe("How the pool was built")
      .register(registry, { default: () => ({}) }),
    round: z
      .number()
      .describe("Current decode round")
      .register(registry, { reducer: { fn: Math.max }, default: () => 0 }),
    decoded: z
      .array(checked(InstructionTaskSchema))
      .describe("Decoded basic instructions waiting to be filtered (the ones sent to filtering leave this list)")
      .register(registry, { reducer: { fn: append }, default: () => [] }),
    decodedCount: z
      .number()
      .describe("Basic instructions decoded so far")
      .register(registry, { reducer: { fn: (a: number, b: number) => a + b }, default: () => 0 }),
    requested: z
      .number()
      .describe(
        "Basic instructions asked of decode (or self-instruct) so far, failed calls included: top-up rounds are sized by kept / requested",
      )
      .register(registry, { reducer: { fn: (a: number, b: number) => a + b }, default: () => 0 }),
    recent: z
      .record(z.string(), z.array(z.string()))
      .describe(
        `The last ${RECENT_LIMIT} instructions decoded per metadata, shown to decode in top-up rounds to avoid repeats (the near-duplicate filter compares with every instruction of the run)`,
      )
      .register(registry, { reducer: { fn: keepRecent }, default: () => ({}) }),
    wave: z
      .array(checked(InstructionTaskSchema))
      .describe("The instructions being filtered in the current wave")
      .register(registry, { reducer: { fn: (_: InstructionTask[], b: InstructionTask[]) => b }, default: () => [] }),
    waveStart: z
      .number()
      .describe("Instructions sent to filtering before the current wave")
      .register(registry, { default: () => 0 }),
    waveEnd: z
      .number()
      .describe("Instructions sent to filtering so far, the current wave included")
      .register(registry, { default: () => 0 }),
    outcomes: z
      .array(checked(InstructionOutcomeSchema))
      .describe("Outcomes of the current wave, consumed by collect")
      .register(registry, { reducer: { fn: append }, default: () => [] }),
    kept: z
      .array(checked(KeptPairSchema))
      .describe("Kept instruction-response pairs")
      .register(registry, { reducer: { fn: records }, default: () => [] }),
    dropped: z
      .array(checked(DroppedRecordSchema))
      .describe("Dropped instructions, seeds and metadata, failures included")
      .register(registry, { reducer: { fn: records }, default: () => [] }),
    progress: ProgressSchema.register(registry, { default: emptyProgress }),
    tally: z
      .record(z.string(), z.number())
      .describe("Drops and failures before filtering (seeds, metadata), by reason and by step")
      .register(registry, { reducer: { fn: addTallies }, default: () => ({}) }),
    usage: UsageTotalsSchema.describe("Model calls and tokens by role and by step").register(registry, {
      reducer: { fn: mergeUsage },
      default: emptyUsage,
    }),
    stopReason: z.string().optional().describe("Why the run ended"),
    summary: z.record(z.string(), z.unknown()).optional().describe("Run summary, set when the run ends"),
  });
}

/** The state in the shape `retainRecords` names (true: `full`, false: `streaming`); kept for library callers. */
export function buildCodecState(options: { retainRecords: boolean }) {
  return codecStateSchema(options.retainRecords ? "full" : "streaming");
}

export type CodecStateSchema = ReturnType<typeof codecStateSchema>;
export type CodecState = z.infer<CodecStateSchema>;
/** A node's update: `outcomes` and `decoded` may also be an `Overwrite` (collect, schedule). */
export type CodecUpdate = Partial<Omit<CodecState, "outcomes" | "decoded">> & { outcomes?: unknown; decoded?: unknown };

/** The per-instruction subgraph's state: the instruction's versions, answers and scores so far (shapes as the parent's). */
export function instructionStateSchema(shape: StateShape) {
  const { channel: checked } = SHAPES[shape];
  return z.object({
    task: checked(InstructionTaskSchema),
    spare: z.boolean().optional().describe("A spare of its wave: filtered only once the wave needs it"),
    instruction: z.string().register(registry, { default: () => "" }),
    iteration: z.number().register(registry, { default: () => 1 }),
    actions: z.array(z.string()).register(registry, { default: () => [] }),
    history: z.array(checked(IterationRecordSchema)).register(registry, { default: () => [] }),
    answers: z.object({ strong: z.string(), target: z.string() }).optional(),
    verdict: z.enum(["keep", "action-apply", "drop", "failed"]).optional(),
    outcomes: z
      .array(checked(InstructionOutcomeSchema))
      .register(registry, { reducer: { fn: append }, default: () => [] }),
    usage: UsageTotalsSchema.register(registry, { reducer: { fn: mergeUsage }, default: emptyUsage }),
  });
}
export const InstructionStateSchema = instructionStateSchema("full");
export type InstructionState = z.infer<typeof InstructionStateSchema>;

export type { DroppedRecord, IterationRecord, KeptPair, PoolEntry };
