import { setMaxListeners } from "node:events";
import { join, resolve as resolvePath } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import type { AblationResult } from "../eval/ablate.js";
import { readAnswers } from "../eval/answers.js";
import { type EvalConfigInput, resolveEvalConfig } from "../eval/config.js";
import { formatAblationTable } from "../eval/format.js";
import type { ProvidedAnswers } from "../eval/run.js";
import { EVALUATION_NAMES, readSplit, resolveBenchmark, testSetWarning } from "../io/benchmarks.js";
import type { SeedSplit } from "../lib/split.js";
import { withOutputLock } from "../runner/lock.js";
import { createOutputFolders, writeJsonAtomic } from "../runner/output.js";
import { readSeeds } from "../io/seeds.js";
import { ABLATIONS, type Ablation, rolesFor } from "../lib/ablation.js";
import { type CodecConfig, type RoleSettings, inputProblems } from "../lib/config.js";
import type { ModelRole, Seed } from "../lib/records.js";
import { readBenchmark } from "./eval.js";
import { UsageError } from "./errors.js";
import { buildGenerateConfig } from "./generate.js";
import { ABLATE_EVAL_SETTINGS, ABLATE_SETTINGS } from "./flag-names.js";
import { collect, deprecatedMaxTokens, integer, takeDeprecatedMaxTokens } from "./options.js";
import { addRoleOptions, roleFromFlags, withoutRole } from "./role-flags.js";
import { addSettingOptions, settingsFromFlags } from "./schema-flags.js";

/** Run options of `codeclm ablate`; its settings' flags (ABLATE_SETTINGS, ABLATE_EVAL_SETTINGS, role flags) are read by key. */
interface AblateFlags {
  seeds: string;
  field?: string;
  benchmark: string;
  limit?: number;
  out: string;
  rows?: Ablation[];
  config?: string;
  maxOutputTokens?: number;
  /** Deprecated name of --max-output-tokens. */
  maxTokens?: number;
  modelFor?: string[];
  modelTemplate?: string;
  answersFor?: string[];
  answerField?: string;
  baseline?: boolean;
  allowOverlap?: boolean;
  force?: boolean;
  quiet?: boolean;
  [setting: string]: unknown;
}

const rowList = (value: string): Ablation[] => {
  const rows = value
    .split(",")
    .map((row) => row.trim())
    .filter((row) => row !== "");
  const unknown = rows.filter((row) => !(ABLATIONS as readonly string[]).includes(row));
  if (unknown.length > 0 || rows.length === 0)
    throw new InvalidArgumentError(`rows are a comma-separated list of ${ABLATIONS.join(", ")}`);
  return rows as Ablation[];
};

/** `ROW=VALUE` pairs, each row at most once. */
function perRow(specs: readonly string[], flag: string): Partial<Record<Ablation, string>> {
  const out: Partial<Record<Ablation, string>> = {};
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const row = spec.slice(0, eq) as Ablation;
    if (eq < 0 || !ABLATIONS.includes(row) || spec.slice(eq + 1) === "") {
      throw new UsageError(`${flag} takes ROW=VALUE with ROW one of ${ABLATIONS.join(", ")}; got "${spec}"`);
    }
    if (out[row] !== undefined) throw new UsageError(`${flag} names ${row} twice`);
    out[row] = spec.slice(eq + 1);
  }
  return out;
}

/** The fine-tuned model, or its answers file, of each row (`--model-for`, `--model-template`, `--answers-for`). */
async function evaluatedPerRow(flags: AblateFlags, rows: readonly Ablation[], benchmark: Seed[]) {
  const modelSpecs = perRow(flags.modelFor ?? [], "--model-for");
  const answerFiles = perRow(flags.answersFor ?? [], "--answers-for");
  const models: Partial<Record<Ablation, RoleSettings>> = {};
  for (const row of rows) {
    const spec = modelSpecs[row] ?? (answerFiles[row] ? undefined : flags.modelTemplate?.replaceAll("{row}", row));
    if (modelSpecs[row] && answerFiles[row]) throw new UsageError(`${row} has both --model-for and --answers-for`);
    if (spec) models[row] = roleFromFlags({ ...flags, model: spec }, "model")!;
  }
  const answers: Partial<Record<Ablation, ProvidedAnswers>> = {};
  for (const [row, file] of Object.entries(answerFiles) as Array<[Ablation, string]>) {
    answers[row] = {
      answers: await readAnswers(file, benchmark, { field: flags.answerField }),
      source: "file",
      label: file,
    };
  }
  return { models, answers };
}

/** The evaluation of the rows: who judges and answers, with what settings (the run's token limit and concurrency). */
async function evaluationFor(flags: AblateFlags, rows: readonly Ablation[], benchmark: Seed[], config: CodecConfig) {
  const { models, answers } = await evaluatedPerRow(flags, rows, benchmark);
  const judge = roleFromFlags(flags, "judge");
  const reference = roleFromFlags(flags, "reference") ?? config.strong;
  const evaluates = flags.baseline || Object.keys(models).length > 0 || Object.keys(answers).length > 0;
  if (evaluates && !judge)
    throw new UsageError("--judge SPEC is required to evaluate: the model that compares the answers");
  const settings: Omit<EvalConfigInput, "model" | "reference" | "judge"> = {
    ...settingsFromFlags(flags, ABLATE_EVAL_SETTINGS),
    ...(flags.maxOutputTokens !== undefined ? { maxTokens: flags.maxOutputTokens } : {}),
    ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency as number } : {}),
  };
  return {
    evaluates,
    evaluation: {
      judge: judge ?? reference,
      reference,
      models,
      answers,
      settings,
    },
  };
}

/** Every model that will be called can be built, before anything is spent. */
async function validateModels(
  flags: AblateFlags,
  rows: readonly Ablation[],
  config: CodecConfig,
  plan: Awaited<ReturnType<typeof evaluationFor>>,
  env: NodeJS.ProcessEnv,
) {
  // Providers load here, once the input is known to be good: --help and usage errors need none.
  const [{ ModelFactory }, { evalFactory }] = await Promise.all([
    import("../models/factory.js"),
    import("../eval/run.js"),
  ]);
  ModelFactory.fromConfig(config, { env }).validate([...new Set<ModelRole>(rows.flatMap((row) => rolesFor(row)))]);
  if (!plan.evaluates) return;
  const { judge, reference, models, settings } = plan.evaluation;
  const candidates: Array<RoleSettings | null> = [...Object.values(models), ...(flags.baseline ? [config.target] : [])];
  if (candidates.length === 0) candidates.push(null); // answers files only: the judge and the reference are called
  for (const model of candidates) {
    const evalConfig = resolveEvalConfig({
      ...settings,
      model,
      reference,
      judge,
    });
    evalFactory(evalConfig, { env }).validate(model ? ["judge", "strong", "target"] : ["judge", "strong"]);
  }
}

/** The seeds: a split of a set (`--seeds vicuna:20%`), or a whole file; either way recorded for `eval`'s leakage check. */
async function ablationSeeds(flags: AblateFlags, seed: number): Promise<{ seeds: Seed[]; split: SeedSplit }> {
  const split = await readSplit(flags.seeds, { seed, field: flags.field });
  if (split) return { seeds: split.seeds, split: split.split };
  const seedsPath = resolveBenchmark(flags.seeds);
  const seeds = await readSeeds(seedsPath, { field: flags.field });
  const warning = await testSetWarning(flags.seeds, seedsPath, seeds);
  if (warning) process.stderr.write(`${warning}\n`);
  const source = { set: flags.seeds, file: resolvePath(seedsPath), items: seeds.length, whole: true };
  return { seeds, split: { ...source, seed, ids: seeds.map((item) => item.id) } };
}

/** Seeds and benchmark read, settings resolved and every model checked: bad input stops the run before any call. */
async function prepareAblation(flags: AblateFlags, env: NodeJS.ProcessEnv) {
  const rows = flags.rows ?? [...ABLATIONS];
  // The run's settings for every row; --judge here is the evaluation's judge, not the run's.
  const config = await buildGenerateConfig(withoutRole(flags, "judge"), env, ABLATE_SETTINGS);
  const { seeds, split } = await ablationSeeds(flags, config.seed);
  const benchmark = await readBenchmark(flags.benchmark, {
    limit: flags.limit,
  });
  // Settings that can never reach --size in some row are refused before anything is spent.
  const impossible = [
    ...new Set(rows.flatMap((row) => inputProblems({ ...config, ablation: row }, { seeds: seeds.length }))),
  ];
  if (impossible.length > 0) throw new UsageError(impossible.join("; "));
  const plan = await evaluationFor(flags, rows, benchmark, config);
  await validateModels(flags, rows, config, plan, env);
  return { rows, seeds, split, benchmark, config, evaluation: plan.evaluation };
}

export async function ablateCommand(flags: AblateFlags, env: NodeJS.ProcessEnv = process.env): Promise<AblationResult> {
  const { rows, seeds, split, benchmark, config, evaluation } = await prepareAblation(flags, env);
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onSigint = () => {
    process.stderr.write("\ncodeclm: interrupted\n");
    controller.abort();
  };
  process.once("SIGINT", onSigint);
  try {
    const { runAblation } = await import("../eval/ablate.js");
    const result = await runAblation({
      seeds,
      split,
      allowOverlap: flags.allowOverlap ?? false,
      benchmark,
      benchmarkLabel: flags.benchmark,
      config,
      rows,
      baseline: flags.baseline ?? false,
      evaluation,
      dir: flags.out,
      force: flags.force ?? false,
      env,
      signal: controller.signal,
      onProgress: flags.quiet ? undefined : (message) => process.stderr.write(`codeclm: ${message}\n`),
    });
    await createOutputFolders([join(flags.out, "ablation.json")]);
    await writeJsonAtomic(join(flags.out, "ablation.json"), result);
    return result;
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}

export function registerAblate(program: Command): void {
  const command = program
    .command("ablate")
    .description(
      "Generate the paper's Table 3 rows at the same size and evaluate the model fine-tuned on each (fine-tuning is yours to do)",
    )
    .requiredOption("--seeds <file|name>", "seed instructions (as for generate)")
    .option("--field <name>", "the field holding the seed instruction")
    .requiredOption(
      "--benchmark <name|file>",
      `benchmark to evaluate on: ${EVALUATION_NAMES.join(", ")} or a file (as for eval)`,
    )
    .option("--limit <n>", "evaluate only the first N benchmark items", integer(1))
    .option(
      "--out <dir>",
      "directory for each row's data (ROW.jsonl), evaluations (ROW.eval/) and ablation.json",
      "ablation",
    )
    .option("--rows <list>", `comma-separated rows (default: all of ${ABLATIONS.join(",")})`, rowList)
    .option("--config <file>", "JSON file with generation settings shared by every row")
    .addOption(deprecatedMaxTokens());
  // The run settings of lib/config.ts shared by every row, then the evaluation's own (cli/flag-names.ts).
  addSettingOptions(command, ABLATE_SETTINGS);
  addSettingOptions(command, ABLATE_EVAL_SETTINGS);
  addRoleOptions(command, "strong", "strong model as provider:model (generates every row; the reference by default)");
  addRoleOptions(
    command,
    "target",
    "target model as provider:model (answers in the full row's filtering; the --baseline model)",
  );
  addRoleOptions(command, "judge", "evaluation judge as provider:model (the paper: ChatGPT)");
  addRoleOptions(command, "reference", "reference model for the evaluation (default: the strong model)");
  addRoleOptions(command, "model", "", {
    model: false,
    label: "the fine-tuned models (--model-for, --model-template)",
  });
  command
    .option("--model-for <row=spec>", "the model fine-tuned on ROW's data, to evaluate (repeatable)", collect)
    .option("--model-template <spec>", "the fine-tuned models' spec with {row}, e.g. openai:llama-7b-{row}")
    .option(
      "--answers-for <row=file>",
      "answers of the model fine-tuned on ROW's data, instead of a model (repeatable)",
      collect,
    )
    .option("--answer-field <name>", "the field holding the answer in --answers-for files")
    .option("--baseline", "also evaluate the untuned target: where the rows start from")
    .option("--allow-overlap", "evaluate even when the benchmark overlaps a row's data (the overlap is reported)")
    .option("--force", "regenerate rows and redo evaluations already in --out")
    .option("--quiet", "print only the table");
  command.action(async (flags: AblateFlags) => {
    takeDeprecatedMaxTokens(flags);
    const result = await withOutputLock(join(flags.out, "ablation.lock"), `codeclm ablate --out ${flags.out}`, () =>
      ablateCommand(flags),
    );
    process.stdout.write(`${formatAblationTable(result)}\ntable -> ${join(flags.out, "ablation.json")}\n`);
    const incomplete = result.rows.some(
      (row) => row.data?.status === "incomplete" || row.evaluation?.summary.status === "incomplete",
    );
    if (incomplete) process.exitCode = 3;
  });
}
