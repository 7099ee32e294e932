import { z } from "zod";
import {
  type CodecConfig,
  CodecConfigSchema,
  RoleSettingsSchema,
  SettingsError,
  parseSettings,
  resolveConfig,
} from "../lib/config.js";
import { EVAL_JUDGE_PLACEHOLDERS } from "../prompts/eval-judge.js";
import { missingPlaceholders } from "../prompts/template.js";

/**
 * Settings of one evaluation by the paper's protocol (§5.1): the model under test and the reference
 * answer every benchmark instruction (or their answers come from files), and a judge compares them.
 */
export const EvalConfigSchema = z.object({
  model: RoleSettingsSchema.nullable()
    .default(null)
    .describe(
      "The model under test (e.g. the target fine-tuned on codeclm data); null when its answers come from a file",
    ),
  reference: RoleSettingsSchema.nullable()
    .default(null)
    .describe(
      "The reference model the paper compares against (the strong LLM); null when its answers come from a file",
    ),
  judge: RoleSettingsSchema.describe("The judge (the paper used ChatGPT, and GPT-4 as a check)"),
  answerTemperature: z
    .number()
    .min(0)
    .max(2)
    .default(0.7)
    .describe("Sampling temperature of both models' answers (paper: not stated)"),
  judgeTemperature: z.number().min(0).max(2).default(0).describe("Judge temperature (paper: 0)"),
  maxTokens: z.number().int().min(16).default(2048).describe("Most tokens per answer or judgement"),
  answerRetries: z
    .number()
    .int()
    .min(0)
    .default(2)
    .describe("Retries of an empty answer before the item is an answer failure"),
  judgeRetries: z
    .number()
    .int()
    .min(0)
    .default(2)
    .describe("Retries of a judgement whose first line is not two 1-10 scores, before the item is a judge failure"),
  concurrency: z.number().int().min(1).default(16).describe("Most model calls in flight at once"),
  // The answers and judgements can wait: with `batch`, they go through the provider's Batch API at half price.
  batch: CodecConfigSchema.shape.batch,
  batchMaxCalls: CodecConfigSchema.shape.batchMaxCalls,
  batchWaitSeconds: CodecConfigSchema.shape.batchWaitSeconds,
  batchPollSeconds: CodecConfigSchema.shape.batchPollSeconds,
  judgePrompt: z
    .string()
    .optional()
    .describe(
      "Judge prompt template; placeholders {question} {answer1} {answer2}; the first line of the reply must be the two scores",
    ),
});

export type EvalConfigInput = z.input<typeof EvalConfigSchema>;
export type EvalConfig = z.output<typeof EvalConfigSchema>;

/** Evaluation settings with their defaults (applied by lib/config's `parseSettings`, as for a run's). */
export function resolveEvalConfig(raw: unknown): EvalConfig {
  const config = parseSettings(EvalConfigSchema, raw, "evaluation configuration");
  const prompt = config.judgePrompt;
  if (prompt !== undefined && prompt.trim() !== "") {
    const missing = missingPlaceholders(prompt, EVAL_JUDGE_PLACEHOLDERS);
    if (missing.length > 0) {
      throw new SettingsError(
        `Invalid evaluation configuration: the judge prompt lacks ${missing.map((name) => `{${name}}`).join(", ")}`,
      );
    }
  }
  return config;
}

/**
 * The evaluation's roles in the factory's slots: the model under test takes the `target` slot, the
 * reference the `strong` slot, the judge the `judge` slot. A side whose answers come from a file has no
 * model; its slot holds the judge's settings and is never called or validated.
 */
export function callConfigFor(config: EvalConfig): CodecConfig {
  return resolveConfig({
    strong: config.reference ?? config.judge,
    target: config.model ?? config.judge,
    judge: config.judge,
    maxTokens: config.maxTokens,
    structuredRetries: config.answerRetries,
    concurrency: Math.max(2, config.concurrency),
    batch: config.batch,
    batchMaxCalls: config.batchMaxCalls,
    batchWaitSeconds: config.batchWaitSeconds,
    batchPollSeconds: config.batchPollSeconds,
  });
}
