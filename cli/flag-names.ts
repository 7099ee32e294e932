/**
 * Where a flag's name differs from its setting's path (README, "Configuration": the mapping table).
 * Every other setting's flag is its path in kebab case (`topUpRounds` -> `--top-up-rounds`,
 * `temperatures.decode` -> `--temperature-decode`); a new setting in the schema gets its flag from there.
 */
import { CodecConfigSchema } from "../lib/config.js";
import { EvalConfigSchema } from "../eval/config.js";
import { type FlagNaming, type SettingFlag, settingFlags } from "./schema-flags.js";

const CODEC_NAMING = {
  renamed: {
    rubricCount: "rubrics",
    poolSize: "pool",
    instructionsPerMetadata: "per-metadata",
    maxTokens: "max-output-tokens",
    adaptiveConcurrency: "adaptive",
    timeoutSeconds: "timeout",
    giveUpAfterSeconds: "give-up-after",
    temperatures: "temperature",
    budget: "",
    "budget.maxCostUsd": "max-cost",
  },
  // Roles have their own flags (role-flags.ts); prompts and prices are read from files (--prompt, --prices).
  skipped: ["strong", "target", "judge", "prompts", "prices"],
} satisfies FlagNaming;

/** `codeclm generate`: every run setting. */
export const GENERATE_SETTINGS: readonly SettingFlag[] = settingFlags(CodecConfigSchema, CODEC_NAMING);

/** `codeclm ablate`: the run settings shared by every row (no row choice; no budget: --max-tokens was its token limit). */
export const ABLATE_SETTINGS: readonly SettingFlag[] = settingFlags(CodecConfigSchema, {
  ...CODEC_NAMING,
  skipped: [...CODEC_NAMING.skipped, "ablation", "budget"],
});

/** `codeclm eval`: every evaluation setting but the roles and the judge prompt (a file: --judge-prompt). */
export const EVAL_SETTINGS: readonly SettingFlag[] = settingFlags(EvalConfigSchema, {
  renamed: { maxTokens: "max-output-tokens" },
  skipped: ["model", "reference", "judge", "judgePrompt"],
});

/** `codeclm ablate`: the evaluation settings not already run settings there. */
export const ABLATE_EVAL_SETTINGS: readonly SettingFlag[] = settingFlags(EvalConfigSchema, {
  only: ["answerTemperature", "answerRetries", "judgeRetries"],
});
