import { z } from "zod";

/** A seed instruction read from the user's file. */
export const SeedSchema = z.object({
  id: z.string().describe("Stable id of the seed: the record's own id field, else `seed-<line>`"),
  instruction: z.string().describe("The seed instruction text"),
  category: z.string().optional().describe("Category from the seed file, when it has one"),
});
export type Seed = z.infer<typeof SeedSchema>;

/** Use case plus at most `skillsMax` skills: the paper's instruction metadata. */
export const MetadataSchema = z.object({
  useCase: z.string().describe("The task the instruction asks for, e.g. 'code generation'"),
  skills: z.array(z.string()).describe("Knowledge needed to answer, 2-3 words each"),
});
export type Metadata = z.infer<typeof MetadataSchema>;

/** A member of the metadata pool, with where it came from. */
export const PoolEntrySchema = MetadataSchema.extend({
  id: z.string().describe("Pool id, `m<index>`"),
  origin: z.enum(["seed", "user", "augmented"]).describe("Encoded from a seed, written by the user, or mix-and-match"),
  seedIds: z.array(z.string()).describe("Seeds whose use case or skills this metadata was built from"),
});
export type PoolEntry = z.infer<typeof PoolEntrySchema>;

export const ModelRoleSchema = z.enum(["strong", "target", "judge"]);
export type ModelRole = z.infer<typeof ModelRoleSchema>;

/** The four raw judge scores: one pass with the strong answer first, one with it second. */
export const RawScoresSchema = z.object({
  strongFirst: z.object({ strong: z.number(), target: z.number() }),
  targetFirst: z.object({ strong: z.number(), target: z.number() }),
});
export type RawScores = z.infer<typeof RawScoresSchema>;

export const ScoresSchema = z.object({
  strong: z.number().describe("Strong answer's score averaged over both orders"),
  target: z.number().describe("Target answer's score averaged over both orders"),
  gap: z.number().describe("strong - target"),
});
export type Scores = z.infer<typeof ScoresSchema>;

/** One pass of Contrastive Filtering over one version of an instruction. */
export const IterationRecordSchema = z.object({
  iteration: z.number().describe("1-based; 1 is the basic instruction"),
  instruction: z.string(),
  action: z
    .string()
    .optional()
    .describe("The Self-Rubrics action applied to reach this version (absent at iteration 1)"),
  answers: z.object({
    strong: z.string(),
    target: z.string().optional().describe("Absent in ablation rows without filtering"),
  }),
  rawScores: RawScoresSchema.optional().describe("Absent in ablation rows without filtering (no judge)"),
  scores: ScoresSchema.optional().describe("Absent in ablation rows without filtering (no judge)"),
});
export type IterationRecord = z.infer<typeof IterationRecordSchema>;

export const LineageSchema = z.object({
  metadataId: z.string(),
  metadataOrigin: z
    .enum(["seed", "user", "augmented", "self-instruct"])
    .describe("self-instruct: no metadata (no-metadata ablation)"),
  seedIds: z
    .array(z.string())
    .describe("Seeds the metadata came from (no-metadata ablation: the seeds shown as examples)"),
  basicInstruction: z.string().describe("The decoded instruction before any improvement"),
  actions: z.array(z.string()).describe("Actions applied, in order"),
  iterations: z.array(IterationRecordSchema).describe("Every filtering pass, in order"),
});
export type Lineage = z.infer<typeof LineageSchema>;

/** One line of `--out`: an instruction-response pair kept by Contrastive Filtering. */
export const KeptPairSchema = z.object({
  id: z.string(),
  instruction: z.string(),
  response: z.string(),
  source: z
    .enum(["strong", "target"])
    .describe("Whose answer was kept: target only when it beat the strong one by more than theta"),
  iteration: z.number(),
  metadata: MetadataSchema,
  scores: ScoresSchema.optional().describe("Absent in ablation rows without filtering: the pair was never judged"),
  answers: z.object({ strong: z.string(), target: z.string().optional() }),
  rawScores: RawScoresSchema.optional(),
  lineage: LineageSchema,
  decidedBy: z.string().optional().describe("The worker that decided it (--engine dbos); absent in a local run"),
  runId: z.string(),
});
export type KeptPair = z.infer<typeof KeptPairSchema>;

export const DropReasonSchema = z.enum([
  "max-iterations", // |gap| <= theta after the last allowed iteration
  "failure", // a model call failed or kept returning malformed output
  "surplus", // decided after the requested size was already reached (written by versions before `pastSize`)
  "near-duplicate", // nearly repeats an earlier instruction
  "implausible", // an augmented metadata rejected by the plausibility check
]);
export type DropReason = z.infer<typeof DropReasonSchema>;

export const PipelineStepSchema = z.enum([
  "encode",
  "pool-check",
  "decode",
  "rubric-generate",
  "action-apply",
  "answer-strong",
  "answer-target",
  "judge",
  "self-instruct",
]);
export type PipelineStep = z.infer<typeof PipelineStepSchema>;

/** One line of the dropped file: an instruction, seed or metadata that did not make it, and why. */
export const DroppedRecordSchema = z.object({
  id: z.string(),
  kind: z.enum(["instruction", "seed", "metadata"]),
  reason: DropReasonSchema,
  step: PipelineStepSchema.optional().describe("For failures: the step whose model call failed"),
  error: z.string().optional().describe("For failures: what went wrong (never contains secrets)"),
  instruction: z.string().optional().describe("Last version of the instruction, for instruction drops"),
  duplicateOf: z
    .string()
    .optional()
    .describe("For near-duplicates: the earlier instruction's id (or `seed:<id>`) it nearly repeats"),
  similarity: z.number().optional().describe("For near-duplicates: ROUGE-L F1 with that earlier instruction"),
  seed: z.string().optional().describe("The seed text, for seed drops"),
  metadata: MetadataSchema.optional(),
  lineage: LineageSchema.optional(),
  decidedBy: z.string().optional().describe("The worker that decided it (--engine dbos); absent in a local run"),
  runId: z.string(),
});
export type DroppedRecord = z.infer<typeof DroppedRecordSchema>;

export const UsageCountsSchema = z.object({
  calls: z.number(),
  failedCalls: z.number(),
  inputTokens: z.number(),
  outputTokens: z.number(),
});
export type UsageCounts = z.infer<typeof UsageCountsSchema>;
