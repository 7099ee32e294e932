import { setMaxListeners } from "node:events";
import { readFile } from "node:fs/promises";
import { type Command, Option } from "commander";
import { InputError } from "../io/input-error.js";
import { hasLangSmithKey, startTracing, uploadKeptPairs } from "../io/langsmith.js";
import { readMetadata } from "../io/metadata.js";
import { existingOutputs, outputPathsFor } from "../io/output.js";
import { type RunEvent, runToFiles } from "../io/run.js";
import { readSeeds } from "../io/seeds.js";
import { ABLATIONS, type Ablation, filters, rolesFor } from "../lib/ablation.js";
import {
  type CodecConfig,
  CodecConfigSchema,
  type CodecConfigInput,
  type PromptOverrides,
  type RoleSettings,
  STRUCTURED_OUTPUT_METHODS,
  resolveConfig,
} from "../lib/config.js";
import type { Metadata, ModelRole, Seed } from "../lib/records.js";
import type { RunSummary } from "../lib/summary.js";
import { ModelFactory } from "../models/factory.js";
import { DEFAULT_PROMPTS, type PromptName } from "../prompts/index.js";
import { defaultRoles } from "./defaults.js";
import { prepareLocalModels } from "./local-models.js";
import { UsageError } from "./errors.js";
import { collect, decimal, integer } from "./options.js";

interface GenerateFlags {
  seeds?: string;
  metadata?: string;
  field?: string;
  format?: "auto" | "jsonl" | "json" | "csv" | "tsv" | "text";
  out: string;
  dropped?: string;
  summary?: string;
  force?: boolean;
  config?: string;
  size?: number;
  strong?: string;
  target?: string;
  judge?: string;
  strongBaseUrl?: string;
  targetBaseUrl?: string;
  judgeBaseUrl?: string;
  strongApiKeyEnv?: string;
  targetApiKeyEnv?: string;
  judgeApiKeyEnv?: string;
  strongStructuredOutput?: RoleSettings["structuredOutput"];
  targetStructuredOutput?: RoleSettings["structuredOutput"];
  judgeStructuredOutput?: RoleSettings["structuredOutput"];
  theta?: number;
  maxIterations?: number;
  rubrics?: number;
  pool?: number;
  skillsMax?: number;
  perMetadata?: number;
  topUpRounds?: number;
  dedupeThreshold?: number;
  plausibilityCheck?: boolean;
  actionSampling?: "without-replacement" | "with-replacement";
  maxTokens?: number;
  seed?: number;
  concurrency?: number;
  prompt?: string[];
  ablation?: Ablation;
  ablationImprovements?: number;
  langsmithDataset?: string;
  quiet?: boolean;
}

const ROLES: ModelRole[] = ["strong", "target", "judge"];
const capitalised = (role: ModelRole) => role[0]!.toUpperCase() + role.slice(1);

async function readConfigFile(path: string): Promise<CodecConfigInput> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(path, undefined, `cannot read the config file: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("expected a JSON object");
    const unknown = Object.keys(value).filter((key) => !(key in CodecConfigSchema.shape));
    if (unknown.length > 0) throw new Error(`unknown field(s) ${unknown.join(", ")}`);
    return value as CodecConfigInput;
  } catch (error) {
    throw new InputError(path, undefined, `not a valid JSON config: ${(error as Error).message}`);
  }
}

async function readPromptOverrides(specs: readonly string[]): Promise<PromptOverrides> {
  const overrides: PromptOverrides = {};
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const name = spec.slice(0, eq) as PromptName;
    if (eq < 0 || !(name in DEFAULT_PROMPTS)) {
      throw new UsageError(`--prompt takes STEP=FILE with STEP one of ${Object.keys(DEFAULT_PROMPTS).join(", ")}; got "${spec}"`);
    }
    const file = spec.slice(eq + 1);
    try {
      overrides[name] = await readFile(file, "utf8");
    } catch (error) {
      throw new InputError(file, undefined, `cannot read the prompt file: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
  }
  return overrides;
}

function roleFromFlags(flags: GenerateFlags, role: ModelRole, base: RoleSettings | undefined): RoleSettings | undefined {
  const key = role as "strong" | "target" | "judge";
  const model = flags[key] ?? base?.model;
  if (!model) return undefined;
  const pick = <T>(value: T | undefined, fallback: T | undefined) => value ?? fallback;
  const settings: RoleSettings = { model };
  const baseUrl = pick(flags[`${key}BaseUrl`], base?.baseUrl);
  const apiKeyEnv = pick(flags[`${key}ApiKeyEnv`], base?.apiKeyEnv);
  const structuredOutput = pick(flags[`${key}StructuredOutput`], base?.structuredOutput);
  if (baseUrl) settings.baseUrl = baseUrl;
  if (apiKeyEnv) settings.apiKeyEnv = apiKeyEnv;
  if (structuredOutput) settings.structuredOutput = structuredOutput;
  return settings;
}

/** Flags over the config file over defaults; roles from flags, the file, or the environment. */
export async function buildGenerateConfig(flags: GenerateFlags, env: NodeJS.ProcessEnv): Promise<CodecConfig> {
  const fromFile = flags.config ? await readConfigFile(flags.config) : {};
  const prompts = { ...(fromFile.prompts ?? {}), ...(await readPromptOverrides(flags.prompt ?? [])) };
  const defaults = defaultRoles(env);
  const strong = roleFromFlags(flags, "strong", fromFile.strong) ?? defaults.strong;
  // Ablation rows without filtering never call the target: the strong model stands in, unused.
  const unfiltered = !filters(flags.ablation ?? fromFile.ablation ?? "full");
  const target = roleFromFlags(flags, "target", fromFile.target) ?? (unfiltered ? strong : defaults.target);
  const judge = roleFromFlags(flags, "judge", fromFile.judge ?? undefined);
  const input: CodecConfigInput = {
    ...fromFile,
    strong,
    target,
    ...(judge ? { judge } : {}),
    prompts,
    ...(flags.size !== undefined ? { size: flags.size } : {}),
    ...(flags.theta !== undefined ? { theta: flags.theta } : {}),
    ...(flags.maxIterations !== undefined ? { maxIterations: flags.maxIterations } : {}),
    ...(flags.rubrics !== undefined ? { rubricCount: flags.rubrics } : {}),
    ...(flags.pool !== undefined ? { poolSize: flags.pool } : {}),
    ...(flags.skillsMax !== undefined ? { skillsMax: flags.skillsMax } : {}),
    ...(flags.perMetadata !== undefined ? { instructionsPerMetadata: flags.perMetadata } : {}),
    ...(flags.topUpRounds !== undefined ? { topUpRounds: flags.topUpRounds } : {}),
    ...(flags.dedupeThreshold !== undefined ? { dedupeThreshold: flags.dedupeThreshold } : {}),
    ...(flags.plausibilityCheck === false ? { plausibilityCheck: false } : {}),
    ...(flags.actionSampling ? { actionSampling: flags.actionSampling } : {}),
    ...(flags.maxTokens !== undefined ? { maxTokens: flags.maxTokens } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
    ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
    ...(flags.ablation ? { ablation: flags.ablation } : {}),
    ...(flags.ablationImprovements !== undefined ? { ablationImprovements: flags.ablationImprovements } : {}),
  };
  try {
    return resolveConfig(input);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function progressPrinter(size: number, quiet: boolean): (event: RunEvent) => void {
  if (quiet) return () => {};
  let lastNode = "";
  return (event) => {
    if (event.type === "node" && event.node !== lastNode && event.node !== "instruction") {
      lastNode = event.node;
      process.stderr.write(`codeclm: ${event.node}\n`);
    }
    if (event.type === "kept") process.stderr.write(`codeclm: kept ${event.total}/${size}\n`);
  };
}

export async function generate(flags: GenerateFlags, env: NodeJS.ProcessEnv = process.env): Promise<RunSummary> {
  if (Boolean(flags.seeds) === Boolean(flags.metadata)) {
    throw new UsageError("give exactly one of --seeds FILE or --metadata FILE");
  }
  // Bad input is reported before anything else, and long before any model is called.
  const seeds = flags.seeds ? await readSeeds(flags.seeds, { field: flags.field, format: flags.format }) : undefined;
  const config = await buildGenerateConfig(flags, env);
  if (flags.metadata && config.ablation === "no-metadata") {
    throw new UsageError("--ablation no-metadata generates from seed examples: give --seeds FILE, not --metadata");
  }
  const input: { seeds: Seed[] } | { metadata: Metadata[] } = seeds
    ? { seeds }
    : { metadata: await readMetadata(flags.metadata!, { skillsMax: config.skillsMax }) };

  ModelFactory.fromConfig(config, { env }).validate(rolesFor(config.ablation));
  if (flags.langsmithDataset && !hasLangSmithKey(env)) {
    throw new UsageError("--langsmith-dataset needs LANGSMITH_API_KEY (and LANGSMITH_ENDPOINT for a self-hosted LangSmith)");
  }
  // Local models are checked (and downloaded once, with progress) before anything is spent.
  await prepareLocalModels(config, { quiet: flags.quiet ?? false, roles: rolesFor(config.ablation) });

  const paths = outputPathsFor(flags.out, { dropped: flags.dropped, summary: flags.summary });
  const existing = await existingOutputs(paths);
  if (existing.length > 0 && !flags.force) {
    throw new UsageError(`output already exists: ${existing.join(", ")} (use --force to overwrite)`);
  }
  const controller = new AbortController();
  // Every graph task and model call listens on this one signal: thousands at a time are expected.
  setMaxListeners(0, controller.signal);
  const onSigint = () => {
    process.stderr.write("\ncodeclm: interrupted; partial output left in *.partial files\n");
    controller.abort();
  };
  process.once("SIGINT", onSigint);
  // Off unless LANGSMITH_TRACING=true; the root run's id is the summary's runId.
  const tracing = startTracing(env);
  let summary: RunSummary;
  try {
    summary = await runToFiles({
      input,
      config,
      paths,
      signal: controller.signal,
      graph: { env },
      callbacks: tracing?.callbacks,
      onEvent: progressPrinter(config.size, flags.quiet ?? false),
    });
  } finally {
    process.removeListener("SIGINT", onSigint);
    await tracing?.flush();
  }
  if (tracing && !flags.quiet) process.stderr.write(`codeclm: traced to LangSmith project "${tracing.project}", root run ${summary.runId}\n`);
  if (flags.langsmithDataset) {
    const uploaded = await uploadKeptPairs(paths.kept, flags.langsmithDataset, {
      env,
      description: `CodecLM kept pairs (codeclm run ${summary.runId})`,
    });
    if (!flags.quiet) {
      process.stderr.write(
        `codeclm: ${uploaded.examples} pairs uploaded to LangSmith dataset "${flags.langsmithDataset}" (${uploaded.created ? "created" : "existing"}, id ${uploaded.datasetId})\n`,
      );
    }
  }
  return summary;
}

export function registerGenerate(program: Command): void {
  const command = program
    .command("generate")
    .description("Generate tailored instruction-response pairs from seed instructions or metadata (CodecLM)")
    .option("--seeds <file>", "seed instructions: JSONL, JSON array, CSV/TSV or plain text (one per line)")
    .option("--metadata <file>", "user-written metadata instead of seeds: JSONL/JSON of {useCase, skills}")
    .option("--field <name>", "the field holding the instruction (default: instruction, prompt, text, question, turns[0], Instruction)")
    .addOption(new Option("--format <format>", "seed file format").choices(["auto", "jsonl", "json", "csv", "tsv", "text"]).default("auto"))
    .option("--out <file>", "kept pairs, one JSON line each", "codeclm.jsonl")
    .option("--dropped <file>", "dropped instructions and failures (default: OUT.dropped.jsonl)")
    .option("--summary <file>", "run summary (default: OUT.summary.json)")
    .option("--force", "overwrite existing outputs")
    .option("--config <file>", "JSON file with any configuration field; flags override it")
    .option("--size <n>", "stop when this many pairs are kept", integer(1))
    .option("--theta <x>", "Contrastive Filtering threshold on the score gap", decimal(0))
    .option("--max-iterations <n>", "filtering passes per instruction, the basic one first", integer(1))
    .option("--rubrics <n>", "rubrics and actions per metadata", integer(1))
    .option("--pool <n>", "metadata pool size", integer(1))
    .option("--skills-max <n>", "most skills per metadata", integer(1))
    .option("--per-metadata <n>", "basic instructions per metadata in the first round (default: ceil(size / pool))", integer(1))
    .option("--top-up-rounds <n>", "extra decode rounds when too few pairs are kept", integer(0))
    .option("--dedupe-threshold <x>", "drop decoded instructions whose ROUGE-L with an earlier one is above this (1 = off)", decimal(0, 1))
    .option("--no-plausibility-check", "accept every mixed-and-matched metadata without asking the strong model")
    .addOption(new Option("--action-sampling <mode>", "how successive actions are drawn").choices(["without-replacement", "with-replacement"]))
    .option("--max-tokens <n>", "most tokens per generation", integer(16))
    .option("--seed <n>", "seed for every random choice", integer(Number.MIN_SAFE_INTEGER))
    .option("--concurrency <n>", "most model calls in flight", integer(2))
    .option("--prompt <step=file>", "override a step's prompt template (repeatable)", collect)
    .addOption(
      new Option("--ablation <row>", "generate a row of the paper's Table 3 instead of full CodecLM (rows other than full keep the strong answer, unjudged)").choices([
        ...ABLATIONS,
      ]),
    )
    .option("--ablation-improvements <n>", "metadata-rubrics row: Self-Rubrics improvements per instruction (default 1)", integer(1));
  for (const role of ROLES) {
    const label = capitalised(role);
    command
      .option(`--${role} <spec>`, `${label} model as provider:model${role === "judge" ? " (default: the strong model)" : ""}`)
      .option(`--${role}-base-url <url>`, `OpenAI-compatible base URL for the ${role} model`)
      .option(`--${role}-api-key-env <name>`, `environment variable holding the ${role} model's API key`)
      .addOption(
        new Option(`--${role}-structured-output <method>`, `structured-output method for the ${role} model`).choices([
          ...STRUCTURED_OUTPUT_METHODS,
        ]),
      );
  }
  command.option("--langsmith-dataset <name>", "also upload the kept pairs as examples of this LangSmith dataset (needs LANGSMITH_API_KEY)");
  command.option("--quiet", "print nothing but errors and the final line").action(async (flags: GenerateFlags) => {
    const summary = await generate(flags);
    const paths = outputPathsFor(flags.out, { dropped: flags.dropped, summary: flags.summary });
    process.stdout.write(
      `${summary.status === "complete" ? "done" : "incomplete"}: kept ${summary.kept}/${summary.requested} -> ${paths.kept}; ` +
        `dropped -> ${paths.dropped}; summary -> ${paths.summary}\n${summary.stopReason}\n`,
    );
    if (summary.status !== "complete") process.exitCode = 3;
  });
}
