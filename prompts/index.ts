import { ACTION_APPLY_PLACEHOLDERS, ACTION_APPLY_PROMPT } from "./action-apply.js";
import { ANSWER_PLACEHOLDERS, ANSWER_PROMPT } from "./answer.js";
import { JUDGE_PLACEHOLDERS, JUDGE_PROMPT } from "./contrastive-judge.js";
import { DECODE_PLACEHOLDERS, DECODE_PROMPT } from "./decode.js";
import { ENCODE_PLACEHOLDERS, ENCODE_PROMPT } from "./encode.js";
import { POOL_CHECK_PLACEHOLDERS, POOL_CHECK_PROMPT } from "./pool-check.js";
import { RUBRIC_GENERATE_PLACEHOLDERS, RUBRIC_GENERATE_PROMPT } from "./rubric-generate.js";
import { SELF_INSTRUCT_PLACEHOLDERS, SELF_INSTRUCT_PROMPT } from "./self-instruct.js";
import { fillTemplate, missingPlaceholders } from "./template.js";

export const DEFAULT_PROMPTS = {
  encode: { template: ENCODE_PROMPT, placeholders: ENCODE_PLACEHOLDERS },
  poolCheck: { template: POOL_CHECK_PROMPT, placeholders: POOL_CHECK_PLACEHOLDERS },
  decode: { template: DECODE_PROMPT, placeholders: DECODE_PLACEHOLDERS },
  rubricGenerate: { template: RUBRIC_GENERATE_PROMPT, placeholders: RUBRIC_GENERATE_PLACEHOLDERS },
  actionApply: { template: ACTION_APPLY_PROMPT, placeholders: ACTION_APPLY_PLACEHOLDERS },
  answer: { template: ANSWER_PROMPT, placeholders: ANSWER_PLACEHOLDERS },
  judge: { template: JUDGE_PROMPT, placeholders: JUDGE_PLACEHOLDERS },
  selfInstruct: { template: SELF_INSTRUCT_PROMPT, placeholders: SELF_INSTRUCT_PLACEHOLDERS },
} as const;

export type PromptName = keyof typeof DEFAULT_PROMPTS;
/** A user's replacement templates by step (settings' `prompts`); blank means the built-in one. */
export type PromptOverrides = Partial<Record<PromptName, string | undefined>>;

/** The step's prompt with its placeholders filled: the user's override if any, else the built-in one. */
export function renderPrompt(
  name: PromptName,
  overrides: PromptOverrides,
  values: Record<string, string | number>,
): string {
  const override = overrides[name];
  return fillTemplate(override && override.trim() !== "" ? override : DEFAULT_PROMPTS[name].template, values);
}

/** Problems with user overrides: each must keep the placeholders its step fills. */
export function promptOverrideProblems(overrides: PromptOverrides): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(DEFAULT_PROMPTS) as PromptName[]) {
    const override = overrides[name];
    if (!override || override.trim() === "") continue;
    const missing = missingPlaceholders(override, DEFAULT_PROMPTS[name].placeholders);
    if (missing.length > 0) problems.push(`prompts.${name} lacks ${missing.map((p) => `{${p}}`).join(", ")}`);
  }
  return problems;
}
