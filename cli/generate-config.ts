/** `codeclm generate`'s settings: flags over `--config FILE` over the schema's defaults (also used by `ablate`). */
import { readFile } from "node:fs/promises";
import { InputError } from "../io/input-error.js";
import { type Ablation, filters } from "../lib/ablation.js";
import {
  type CodecConfig,
  type CodecConfigInput,
  type PromptOverrides,
  resolveConfig,
  unknownSettings,
} from "../lib/config.js";
import type { SeedFormat } from "../io/seeds.js";
import { DEFAULT_PROMPTS, type PromptName } from "../prompts/index.js";
import { defaultRoles } from "./defaults.js";
import { UsageError } from "./errors.js";
import { GENERATE_SETTINGS } from "./flag-names.js";
import { roleFromFlags } from "./role-flags.js";
import { type SettingFlag, overlay, settingsFromFlags } from "./schema-flags.js";

/** Run options of `codeclm generate`; its settings' flags (GENERATE_SETTINGS, role flags) are read by key. */
export interface GenerateFlags {
  seeds?: string;
  metadata?: string;
  field?: string;
  format?: SeedFormat;
  out: string;
  dropped?: string;
  summary?: string;
  force?: boolean;
  config?: string;
  langsmithDataset?: string;
  prices?: string;
  checkpoint?: string;
  resume?: boolean | string;
  keepCheckpoints?: boolean;
  dryRun?: boolean;
  prompt?: string[];
  quiet?: boolean;
  json?: boolean;
  progressInterval?: number;
  [setting: string]: unknown;
}

/** A JSON object from a file; a missing file or anything else is an input error naming the file. */
async function readJsonObject(path: string, what: string, shape: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(path, undefined, `cannot read the ${what}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("expected a JSON object");
    return value as Record<string, unknown>;
  } catch (error) {
    throw new InputError(path, undefined, `not a valid ${shape}: ${(error as Error).message}`);
  }
}

async function readConfigFile(path: string): Promise<CodecConfigInput> {
  const config = await readJsonObject(path, "config file", "JSON config");
  const unknown = unknownSettings(config);
  if (unknown.length > 0) throw new InputError(path, undefined, unknown.join("; "));
  return config as CodecConfigInput;
}

async function readPromptOverrides(specs: readonly string[]): Promise<PromptOverrides> {
  const overrides: PromptOverrides = {};
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const name = spec.slice(0, eq) as PromptName;
    if (eq < 0 || !(name in DEFAULT_PROMPTS)) {
      throw new UsageError(
        `--prompt takes STEP=FILE with STEP one of ${Object.keys(DEFAULT_PROMPTS).join(", ")}; got "${spec}"`,
      );
    }
    const file = spec.slice(eq + 1);
    try {
      overrides[name] = await readFile(file, "utf8");
    } catch (error) {
      throw new InputError(
        file,
        undefined,
        `cannot read the prompt file: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
  }
  return overrides;
}

async function readPricesFile(path: string): Promise<Record<string, { input: number; output: number }>> {
  const shape = 'prices file ({"provider:model": {"input": USD per 1M, "output": USD per 1M}})';
  return (await readJsonObject(path, "prices file", shape)) as Record<string, { input: number; output: number }>;
}

/**
 * The run's roles: flags over the config file's roles over the defaults for the environment. Ablation
 * rows without filtering never call the target: the strong model stands in, unused.
 */
function rolesFrom(
  flags: GenerateFlags,
  fromFile: CodecConfigInput,
  ablation: Ablation,
  env: NodeJS.ProcessEnv,
): CodecConfigInput {
  const defaults = defaultRoles(env);
  const strong = roleFromFlags(flags, "strong", fromFile.strong) ?? defaults.strong;
  const target = roleFromFlags(flags, "target", fromFile.target) ?? (filters(ablation) ? defaults.target : strong);
  const judge = flags.judge || fromFile.judge ? roleFromFlags(flags, "judge", fromFile.judge ?? undefined) : undefined;
  // A judge cap alone (no judge model) applies to the strong model's endpoint, which the judge shares.
  const judgeCap = flags.judgeConcurrency as number | undefined;
  if (!judge && judgeCap !== undefined)
    strong.concurrency = Math.min(strong.concurrency ?? Number.POSITIVE_INFINITY, judgeCap);
  return { strong, target, ...(judge ? { judge } : {}) };
}

/**
 * Flags over the config file over defaults (the schema's, applied by `resolveConfig`); roles from flags,
 * the file, or the environment. `settings` says which flags the command has.
 */
export async function buildGenerateConfig(
  flags: GenerateFlags,
  env: NodeJS.ProcessEnv,
  settings: readonly SettingFlag[] = GENERATE_SETTINGS,
): Promise<CodecConfig> {
  const fromFile = flags.config ? await readConfigFile(flags.config) : {};
  const input = overlay(fromFile, settingsFromFlags(flags, settings)) as CodecConfigInput;
  const prompts = { ...(fromFile.prompts ?? {}), ...(await readPromptOverrides(flags.prompt ?? [])) };
  const prices = flags.prices ? { ...(fromFile.prices ?? {}), ...(await readPricesFile(flags.prices)) } : undefined;
  try {
    return resolveConfig({
      ...input,
      ...rolesFrom(flags, fromFile, input.ablation ?? "full", env),
      prompts,
      ...(prices ? { prices } : {}),
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
