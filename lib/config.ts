import { z } from "zod";
import { promptOverrideProblems } from "../prompts/index.js";
import { ABLATIONS, usesMetadata } from "./ablation.js";
import { MAX_SCORE_GAP } from "./scoring.js";

export const STRUCTURED_OUTPUT_METHODS = ["jsonSchema", "functionCalling", "jsonMode"] as const;
export type StructuredOutputMethod = (typeof STRUCTURED_OUTPUT_METHODS)[number];

/**
 * How to reach one model role. Secrets never live here (this object is stored in checkpoints and
 * traces): a key is read at call time from the environment variable this names.
 */
export const RoleSettingsSchema = z.object({
  model: z
    .string()
    .describe(
      "`provider:model`, e.g. `openai:gpt-4o`, `anthropic:claude-sonnet-4-5`, `google-genai:gemini-2.5-flash`, `local:/path/model.gguf`, or any provider LangChain's initChatModel knows (`mistralai:…`, `groq:…`, `bedrock:…`, `ollama:…`) when its package is installed",
    ),
  baseUrl: z
    .string()
    .optional()
    .describe(
      "Base URL for this role: an OpenAI-compatible server (vLLM, Ollama, llama.cpp server, LM Studio), an Anthropic-compatible one for anthropic:, a Gemini endpoint for google-genai:; else CODECLM_<ROLE>_BASE_URL, else OPENAI_BASE_URL / ANTHROPIC_BASE_URL",
    ),
  apiKeyEnv: z
    .string()
    .optional()
    .describe(
      "Name of the environment variable holding this role's API key; else CODECLM_<ROLE>_API_KEY, else the provider's usual variable",
    ),
  structuredOutput: z
    .enum(STRUCTURED_OUTPUT_METHODS)
    .optional()
    .describe(
      "How structured output is requested: JSON schema (default), tool calling, or JSON mode, for servers without JSON-schema support",
    ),
  concurrency: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      "Most calls in flight to this role's endpoint (base URL + model), within the global `concurrency`; roles sharing an endpoint share the smallest limit",
    ),
});
export type RoleSettings = z.infer<typeof RoleSettingsSchema>;

const temperature = (value: number, what: string) =>
  z.number().min(0).max(2).default(value).describe(`Sampling temperature for ${what}`);

export const TemperaturesSchema = z.object({
  encode: temperature(0.7, "encoding seeds into metadata (paper: 0.7)"),
  poolCheck: temperature(0, "the plausibility check of mixed-and-matched metadata (ours)"),
  decode: temperature(0.7, "decoding metadata into basic instructions (paper: 0.7)"),
  rubricGenerate: temperature(0.7, "generating rubrics and actions (paper: 0.7)"),
  actionApply: temperature(0.7, "improving an instruction with an action (paper: 0.7)"),
  answer: temperature(0.7, "the strong and target answers (paper: not stated)"),
  judge: temperature(0, "the contrastive judge (paper: not stated; 0 as in its evaluation)"),
});

/** Prompt templates; an empty value means the built-in one. Placeholders are `{name}`. */
export const PromptOverridesSchema = z.object({
  encode: z.string().optional().describe("Encode prompt (few-shot); placeholders {instruction} {skillsMax}"),
  poolCheck: z.string().optional().describe("Plausibility-check prompt; placeholder {candidates}"),
  decode: z
    .string()
    .optional()
    .describe(
      "Decode prompt; placeholders {useCase} {skills} {count}, optional {avoid} (earlier instructions, in top-up rounds)",
    ),
  rubricGenerate: z.string().optional().describe("Self-Rubrics prompt; placeholders {useCase} {skills} {count}"),
  actionApply: z
    .string()
    .optional()
    .describe("Improvement prompt; placeholders {useCase} {skills} {instruction} {action}"),
  answer: z.string().optional().describe("Answer prompt; placeholder {instruction}"),
  judge: z.string().optional().describe("Pairwise judge prompt; placeholders {instruction} {answer1} {answer2}"),
  selfInstruct: z
    .string()
    .optional()
    .describe("Self-Instruct prompt of the no-metadata ablation; placeholders {examples} {count}"),
});
export type PromptOverrides = z.infer<typeof PromptOverridesSchema>;

export const BudgetSchema = z.object({
  maxCalls: z
    .number()
    .int()
    .min(1)
    .nullable()
    .default(null)
    .describe("Call budget: stop (resumably) before answered model calls would exceed this"),
  maxTokens: z
    .number()
    .int()
    .min(1)
    .nullable()
    .default(null)
    .describe("Token budget: stop (resumably) before input + output tokens would exceed this"),
  maxCostUsd: z
    .number()
    .positive()
    .nullable()
    .default(null)
    .describe(
      "Cost budget: stop (resumably) before the cost in US dollars would exceed this (models without a price count tokens only)",
    ),
});
export type Budget = z.infer<typeof BudgetSchema>;

export const ModelPriceSchema = z.object({
  input: z.number().min(0).describe("USD per million input tokens"),
  output: z.number().min(0).describe("USD per million output tokens"),
  batchInput: z
    .number()
    .min(0)
    .optional()
    .describe("USD per million input tokens through the provider's Batch API (default: half of `input`)"),
  batchOutput: z
    .number()
    .min(0)
    .optional()
    .describe("USD per million output tokens through the provider's Batch API (default: half of `output`)"),
});

/** Which steps' calls go through a provider's Batch API with `batch` on. */
export const BATCH_STEPS = ["answers-and-judge", "all"] as const;
export type BatchSteps = (typeof BATCH_STEPS)[number];

export const CodecConfigSchema = z.object({
  strong: RoleSettingsSchema.default({ model: "openai:gpt-4o" }).describe(
    "The strong LLM: encodes, decodes, writes rubrics/actions, improves instructions and answers",
  ),
  target: RoleSettingsSchema.default({ model: "openai:gpt-4o-mini" }).describe(
    "The target LLM being aligned: only answers instructions during Contrastive Filtering",
  ),
  judge: RoleSettingsSchema.nullable()
    .default(null)
    .describe("The Contrastive Filtering scorer; null means the strong model, as in the paper"),
  size: z.number().int().min(1).default(100).describe("Stop when this many instruction-response pairs are kept"),
  theta: z.number().min(0).default(3).describe("Contrastive Filtering threshold on the score gap (paper: 3)"),
  maxIterations: z
    .number()
    .int()
    .min(1)
    .default(4)
    .describe("Filtering passes per instruction, the basic instruction counting as the first (paper: 4)"),
  rubricCount: z.number().int().min(1).default(4).describe("Rubrics and matching actions per metadata (paper: 4)"),
  rubricsAhead: z
    .number()
    .int()
    .min(0)
    .default(10)
    .describe(
      "Write a metadata's rubrics as soon as its first decode returns, in call slots the setup leaves idle, when that round gives it at least this many instructions (one of them will almost surely need improving); 0: only when an instruction first needs them",
    ),
  poolSize: z
    .number()
    .int()
    .min(1)
    .nullable()
    .default(null)
    .describe(
      "Metadata pool size after mix-and-match (paper: 200); null sizes it to the run: ceil(size / 2.5) between 10 and 200, so runs of 500 pairs or more get the paper's 200",
    ),
  skillsMax: z.number().int().min(1).default(3).describe("Most skills per metadata (paper: 3)"),
  instructionsPerMetadata: z
    .number()
    .int()
    .min(1)
    .nullable()
    .default(null)
    .describe(
      "Basic instructions decoded per metadata in the first round; null means ceil(size / (expectedKeepRate × pool))",
    ),
  expectedKeepRate: z
    .number()
    .gt(0)
    .max(1)
    .default(0.5)
    .describe(
      "Share of basic instructions expected to end as kept pairs, before any is filtered: sizes the first decode round (decode ahead; instructions not needed are never answered)",
    ),
  topUpRounds: z
    .number()
    .int()
    .min(0)
    .default(3)
    .describe("Extra decode rounds when a pass keeps fewer than `size` pairs; the run ends and says why after these"),
  topUpMaxPerMetadata: z
    .number()
    .int()
    .min(1)
    .default(20)
    .describe("Most instructions one metadata gets in one top-up round"),
  dedupeThreshold: z
    .number()
    .min(0)
    .max(1)
    .default(0.7)
    .describe(
      "Drop a decoded instruction whose ROUGE-L F1 with an earlier one (or a seed) is above this, before any answer or judge call is spent on it (self-instruct: 0.7); 1 turns the filter off",
    ),
  seedSample: z
    .union([z.number().int().min(1), z.literal("all")])
    .nullable()
    .default(null)
    .describe(
      'Seeds encoded: a seeded sample of this many distinct seeds, or "all"; null means max(poolSize, 50) (identical seeds are always merged first)',
    ),
  maxSeedChars: z
    .number()
    .int()
    .min(1)
    .default(20_000)
    .describe(
      "Longest seed instruction accepted, in characters; a longer one is rejected (file and line) before anything is spent",
    ),
  keepSeedMetadata: z
    .boolean()
    .default(true)
    .describe("Keep the seeds' own (use case, skills) pairs in the pool before mixing (paper: not stated)"),
  plausibilityCheck: z
    .boolean()
    .default(true)
    .describe("Ask the strong model to reject implausible mixed-and-matched metadata (the paper checked by hand)"),
  plausibilityBatchSize: z.number().int().min(1).default(10).describe("Candidates judged per plausibility call"),
  plausibilitySpare: z
    .number()
    .min(0)
    .max(2)
    .default(0.1)
    .describe(
      "Extra mixed-and-matched candidates checked in a round, as a share of those needed, rounded up to whole batches: a few rejections then cost no second round of calls (ours)",
    ),
  reviewInstructions: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      "Stop once after the first decode round with this many basic instructions per metadata for a look (interrupt; the CLI writes OUT.instructions.jsonl and exits 5); 0 is off",
    ),
  reviewPool: z
    .boolean()
    .default(false)
    .describe(
      "Stop after the metadata pool is built, for a person to review it (LangGraph interrupt; the CLI writes OUT.pool.jsonl and exits 5); needs a checkpointer",
    ),
  plausibilityAlertShare: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe(
      "Say loudly (progress, final message, summary) that mix-and-match was partly or wholly off when the plausibility check could not judge at least this share of the mixed candidates and the pool was left short",
    ),
  actionSampling: z
    .enum(["without-replacement", "with-replacement"])
    .default("without-replacement")
    .describe("How an instruction's successive actions are drawn from its metadata's actions (paper: not stated)"),
  temperatures: TemperaturesSchema.default(TemperaturesSchema.parse({})).describe("Per-step sampling temperatures"),
  maxTokens: z.number().int().min(16).default(2048).describe("Most tokens a model may generate per call (paper: 2048)"),
  structuredRetries: z
    .number()
    .int()
    .min(0)
    .default(2)
    .describe("Retries when a model's structured output is malformed, before it is recorded as a failure"),
  concurrency: z
    .number()
    .int()
    .min(2)
    .default(16)
    .describe("Most model calls in flight at once, over every role and endpoint"),
  adaptiveConcurrency: z
    .boolean()
    .default(true)
    .describe(
      "Per endpoint, halve the calls in flight on rate limits and rising latency, and grow them back gradually",
    ),
  timeoutSeconds: z.number().positive().default(120).describe("Longest wait for one model call before it is retried"),
  retries: z
    .number()
    .int()
    .min(0)
    .default(5)
    .describe(
      "Retries of one call after a 5xx, a timeout or a reset connection, with exponential backoff and jitter (429s are retried after their Retry-After and do not count)",
    ),
  giveUpAfterSeconds: z
    .number()
    .positive()
    .default(300)
    .describe(
      "An endpoint failing this long without a single success, or a call rate-limited this long, stops the run, resumably",
    ),
  batch: z
    .boolean()
    .default(false)
    .describe(
      "Send the calls that can wait through the provider's Batch API (OpenAI and servers speaking it): half price, but a batch may take up to 24 h",
    ),
  batchSteps: z
    .enum(BATCH_STEPS)
    .default("answers-and-judge")
    .describe(
      "With `batch`: batch the answer and judge calls only, or every step's calls (encode, decode, rubrics, improvement too)",
    ),
  batchMaxCalls: z.number().int().min(1).max(50000).default(5000).describe("With `batch`: most calls in one batch"),
  batchWaitSeconds: z
    .number()
    .min(0)
    .default(5)
    .describe("With `batch`: how long calls are gathered before a batch is submitted (sooner when it is full)"),
  batchPollSeconds: z.number().positive().default(30).describe("With `batch`: how often a submitted batch is polled"),
  budget: BudgetSchema.default(BudgetSchema.parse({})).describe(
    "Spending caps; reaching one stops the run cleanly and resumably",
  ),
  prices: z
    .record(z.string(), ModelPriceSchema)
    .default({})
    .describe("Prices by `provider:model` or model name, over the built-in table of common OpenAI and Gemini models"),
  waveLimit: z
    .number()
    .int()
    .min(1)
    .nullable()
    .default(null)
    .describe(
      "Most instructions filtered in one wave (a wave's outcomes are held until it ends, and the calls in flight drain at its end); null: max(1000, 24 × concurrency)",
    ),
  spares: z
    .enum(["expected", "certain", "off"])
    .default("expected")
    .describe(
      "Start the next instructions in order inside a wave once it needs them, so filtering does not drain between waves: expected (once the instructions still being filtered are expected, from the keep rates seen at each iteration, to fall short by a kept pair), certain (only once they would fall short even if all were kept: never filters an instruction a later wave would not), off (waves only)",
    ),
  spareConfidence: z
    .number()
    .min(0)
    .max(5)
    .default(1)
    .describe(
      "With spares: expected: keep rates are taken this many standard errors above what was seen, so a noisy early rate starts fewer spares; higher: fewer surplus pairs, a longer tail",
    ),
  seed: z.number().int().default(42).describe("Seed for every random choice (pool, actions, ordering)"),
  prompts: PromptOverridesSchema.default({}).describe("Override any step's prompt template"),
  ablation: z
    .enum(ABLATIONS)
    .default("full")
    .describe(
      "Row of the paper's Table 3 to generate: no-metadata (Self-Instruct style from seed examples), metadata-only, " +
        "metadata-rubrics (no filtering), or full CodecLM; rows other than full keep the strong answer of every instruction, unjudged",
    ),
  ablationImprovements: z
    .number()
    .int()
    .min(1)
    .default(1)
    .describe(
      "metadata-rubrics row: Self-Rubrics improvements applied to every basic instruction before it is answered",
    ),
});

export type CodecConfigInput = z.input<typeof CodecConfigSchema>;
/** The run's settings once resolved (`resolveConfig`): the pool size is always a number. */
export type CodecConfig = Omit<z.output<typeof CodecConfigSchema>, "poolSize"> & { poolSize: number };

/** The paper's pool of 200 serves 500 pairs and more (2.5 pairs per metadata); a smaller run gets a smaller pool, at least 10. */
export const PAPER_POOL_SIZE = 200;
export const MIN_AUTO_POOL_SIZE = 10;
export function autoPoolSize(size: number): number {
  return Math.min(PAPER_POOL_SIZE, Math.max(MIN_AUTO_POOL_SIZE, Math.ceil(size / 2.5)));
}

/** Settings that are valid one by one but can never produce data (or contradict each other). */
export class SettingsError extends Error {
  override name = "SettingsError";
}

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known name closest to `name` (case-insensitive edit distance; ties: the first known). */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  return best?.name;
}

/** The object schema inside defaults, optionals and nullables, if any (records are free-form: none). */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional || inner instanceof z.ZodNullable) {
    inner = inner.unwrap() as z.ZodType;
  }
  return inner instanceof z.ZodObject ? (inner.shape as Record<string, z.ZodType>) : undefined;
}

/**
 * Keys the schema does not know, at every level, each with the nearest known key: zod would drop them
 * silently and the run would use the default instead (`{"sise": 5}` ran at size 100).
 */
export function unknownSettings(raw: unknown, schema: z.ZodType = CodecConfigSchema, path = ""): string[] {
  const shape = objectShape(schema);
  if (!shape || !raw || typeof raw !== "object" || Array.isArray(raw)) return [];
  const known = Object.keys(shape);
  const problems: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const field = shape[key];
    if (!field) {
      const nearest = nearestName(key, known);
      problems.push(`unknown setting "${path}${key}"${nearest ? ` (did you mean "${path}${nearest}"?)` : ""}`);
      continue;
    }
    problems.push(...unknownSettings(value, field, `${path}${key}.`));
  }
  return problems;
}

/**
 * Combinations that can never produce data, found from the settings alone (the input's size is checked by
 * `inputProblems`). One source of truth for the CLI, the library and the dev server (every node resolves
 * its settings through `resolveConfig`).
 */
export function settingsProblems(config: CodecConfig): string[] {
  const problems: string[] = [];
  if (config.theta >= MAX_SCORE_GAP) {
    problems.push(
      `theta ${config.theta} can never be exceeded: scores are 1-10, so no gap is larger than ${MAX_SCORE_GAP}; use a value below ${MAX_SCORE_GAP} (paper: 3)`,
    );
  }
  if (config.dedupeThreshold === 0) {
    problems.push(
      "dedupeThreshold 0 drops every instruction that shares a single word with an earlier one or a seed; use a value above 0 (1 turns the filter off)",
    );
  }
  return problems;
}

/** Most basic instructions the decode rounds can produce from `poolEntries` metadata (null: no bound). */
export function decodeCapacity(config: CodecConfig, poolEntries: number): number | null {
  if (!usesMetadata(config.ablation) || config.instructionsPerMetadata === null) return null;
  return poolEntries * (config.instructionsPerMetadata + config.topUpRounds * config.topUpMaxPerMetadata);
}

/**
 * Settings that cannot produce `size` pairs from this input: every pair comes from a distinct decoded
 * instruction, so a fixed first round plus every top-up round must be able to decode `size` of them.
 * Seeds give a pool of at most `poolSize`; user-written metadata is the pool as written.
 */
export function inputProblems(config: CodecConfig, input: { seeds: number } | { metadata: number }): string[] {
  const pool = "seeds" in input ? config.poolSize : input.metadata;
  const capacity = decodeCapacity(config, pool);
  if (capacity === null || capacity >= config.size) return [];
  const source = "seeds" in input ? `a pool of at most ${pool} metadata (poolSize)` : `${pool} user-written metadata`;
  return [
    `size ${config.size} cannot be reached: ${source} × (${config.instructionsPerMetadata} instructionsPerMetadata + ` +
      `${config.topUpRounds} topUpRounds × ${config.topUpMaxPerMetadata} topUpMaxPerMetadata) decodes at most ${capacity} instructions; ` +
      "raise one of them or leave instructionsPerMetadata unset",
  ];
}

/**
 * The one place settings get their defaults: unknown keys (with the nearest known name) and invalid
 * values throw a `SettingsError` naming `what`. Used for the run's settings and the evaluation's alike.
 */
export function parseSettings<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const unknown = unknownSettings(raw ?? {}, schema);
  if (unknown.length > 0) throw new SettingsError(`Invalid ${what}: ${unknown.join("; ")}`);
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) {
    const detail = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
    throw new SettingsError(`Invalid ${what}: ${detail.join("; ")}`);
  }
  return parsed.data;
}

/**
 * LangGraph passes `context` raw, without zod defaults: every node resolves it here and only here.
 * Unknown keys, invalid values and combinations that can never produce data all throw, before any call.
 */
export function resolveConfig(raw: unknown): CodecConfig {
  const parsed = parseSettings(CodecConfigSchema, raw, "codeclm configuration");
  const config: CodecConfig = { ...parsed, poolSize: parsed.poolSize ?? autoPoolSize(parsed.size) };
  const problems = [...promptOverrideProblems(config.prompts), ...settingsProblems(config)];
  if (problems.length > 0) throw new SettingsError(`Invalid codeclm configuration: ${problems.join("; ")}`);
  return config;
}

export function judgeSettings(config: CodecConfig): RoleSettings {
  return config.judge ?? config.strong;
}
