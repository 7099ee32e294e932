import { setMaxListeners } from "node:events";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Command, Option } from "commander";
import { readAnswers } from "../eval/answers.js";
import { type EvalConfig, resolveEvalConfig } from "../eval/config.js";
import { formatEvalSummary } from "../eval/format.js";
import type { EvalSummary } from "../eval/records.js";
import type { ProvidedAnswers } from "../eval/run.js";
import { InputError } from "../io/input-error.js";
import { readRunData } from "../io/run-data.js";
import { type LeakageSummary, leakageOf, leakageSummary, refuseOverlap } from "../eval/leakage.js";
import { EVALUATION_NAMES, resolveBenchmark } from "../io/benchmarks.js";
import { withOutputLock } from "../runner/lock.js";
import { type SeedFormat, readSeeds } from "../io/seeds.js";
import type { Seed } from "../lib/records.js";
import { UsageError } from "./errors.js";
import { EVAL_SETTINGS } from "./flag-names.js";
import { deprecatedMaxTokens, integer, takeDeprecatedMaxTokens } from "./options.js";
import { addRoleOptions, roleFromFlags } from "./role-flags.js";
import { addSettingOptions, settingsFromFlags } from "./schema-flags.js";

/** Run options of `codeclm eval`; its settings' flags (EVAL_SETTINGS, role flags) are read by key. */
export interface EvalFlags {
  benchmark: string;
  field?: string;
  format?: SeedFormat;
  limit?: number;
  answers?: string;
  referenceAnswers?: string;
  answerField?: string;
  out: string;
  force?: boolean;
  maxOutputTokens?: number;
  /** Deprecated name of --max-output-tokens. */
  maxTokens?: number;
  judgePrompt?: string;
  /** The kept pairs the model under test was tuned on: their seeds are left out, overlaps refused. */
  data?: string;
  allowOverlap?: boolean;
  quiet?: boolean;
  [setting: string]: unknown;
}

export async function readJudgePrompt(path: string | undefined): Promise<string | undefined> {
  if (!path) return undefined;
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(
      path,
      undefined,
      `cannot read the judge prompt: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
}

/** Evaluation settings from flags; a problem with them is a usage error, said before anything runs. */
export function evalConfigFrom(flags: EvalFlags, judgePrompt: string | undefined): EvalConfig {
  const judge = roleFromFlags(flags, "judge");
  if (!judge)
    throw new UsageError("--judge SPEC is required: the model that compares the answers (the paper used ChatGPT)");
  const input = {
    ...settingsFromFlags(flags, EVAL_SETTINGS),
    model: roleFromFlags(flags, "model") ?? null,
    reference: roleFromFlags(flags, "reference") ?? null,
    judge,
    ...(judgePrompt !== undefined ? { judgePrompt } : {}),
  };
  try {
    return resolveEvalConfig(input);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The benchmark, a built-in name or a file (the seeds reader: JSONL, JSON, CSV/TSV, text; `turns[0]` for multi-turn files), optionally cut. */
export async function readBenchmark(
  spec: string,
  options: { field?: string; format?: SeedFormat; limit?: number },
): Promise<Seed[]> {
  const items = await readSeeds(resolveBenchmark(spec), { field: options.field, format: options.format });
  return options.limit !== undefined ? items.slice(0, options.limit) : items;
}

/**
 * The benchmark to evaluate: with `--data RUN.jsonl`, without the run's seeds when they are a split of it,
 * and refused (exit 2) when what is left overlaps the run's seeds or kept instructions, unless --allow-overlap.
 */
export async function heldOutBenchmark(
  flags: Pick<EvalFlags, "benchmark" | "field" | "format" | "limit" | "data" | "allowOverlap">,
): Promise<{ benchmark: Seed[]; leakage?: LeakageSummary }> {
  const items = await readBenchmark(flags.benchmark, { field: flags.field, format: flags.format });
  if (!flags.data) return { benchmark: cut(items, flags.limit) };
  const data = await readRunData(flags.data);
  const check = leakageOf(flags.benchmark, items, data);
  const leakage = leakageSummary(check, data, flags.allowOverlap ?? false);
  refuseOverlap(flags.benchmark, leakage);
  return { benchmark: cut(check.evaluated, flags.limit), leakage };
}

/** One line on what `--data` left out and what overlaps, e.g. "data: 16 seeds left out, 64 evaluated, overlap 0". */
export function describeLeakage(leakage: LeakageSummary): string {
  const overlap = leakage.overlap > 0 ? `overlap ${leakage.overlap} (allowed: --allow-overlap)` : "overlap 0";
  return `data ${leakage.data}: ${leakage.excluded} of its seeds left out, ${leakage.evaluated} evaluated, ${overlap}`;
}

const cut = (items: Seed[], limit: number | undefined) => (limit !== undefined ? items.slice(0, limit) : items);

/** The answers given as files (`--answers`, `--reference-answers`), matched to the benchmark. */
async function providedAnswers(
  flags: EvalFlags,
  benchmark: Seed[],
): Promise<Partial<Record<"model" | "reference", ProvidedAnswers>>> {
  const provided: Partial<Record<"model" | "reference", ProvidedAnswers>> = {};
  for (const [side, file] of [
    ["model", flags.answers],
    ["reference", flags.referenceAnswers],
  ] as const) {
    if (file)
      provided[side] = {
        answers: await readAnswers(file, benchmark, { field: flags.answerField }),
        source: "file",
        label: file,
      };
  }
  return provided;
}

export async function evalCommand(flags: EvalFlags, env: NodeJS.ProcessEnv = process.env): Promise<EvalSummary> {
  if (flags.model && flags.answers) throw new UsageError("give --model SPEC or --answers FILE, not both");
  if (flags.reference && flags.referenceAnswers)
    throw new UsageError("give --reference SPEC or --reference-answers FILE, not both");
  if (!flags.model && !flags.answers)
    throw new UsageError("give the model under test: --model SPEC, or --answers FILE with its answers");
  if (!flags.reference && !flags.referenceAnswers) {
    throw new UsageError(
      "give the reference (the strong model): --reference SPEC, or --reference-answers FILE with its answers",
    );
  }
  // Bad input and bad settings are reported before any model is called.
  const { benchmark, leakage } = await heldOutBenchmark(flags);
  const config = evalConfigFrom(flags, await readJudgePrompt(flags.judgePrompt));
  const provided = await providedAnswers(flags, benchmark);
  // The judge's providers, loaded once the input is known to be good (--help and usage errors need none).
  const [{ evalFactory, evalRoles }, { evalPathsFor, existingEvalOutputs, runEvalToFiles }] = await Promise.all([
    import("../eval/run.js"),
    import("../eval/output.js"),
  ]);
  evalFactory(config, { env }).validate(evalRoles(config, provided));

  const paths = evalPathsFor(flags.out);
  const existing = await existingEvalOutputs(paths);
  if (existing.length > 0 && !flags.force)
    throw new UsageError(`output already exists: ${existing.join(", ")} (use --force to overwrite)`);

  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onSigint = () => {
    process.stderr.write("\ncodeclm: interrupted; items judged so far are in eval.jsonl.partial\n");
    controller.abort();
  };
  process.once("SIGINT", onSigint);
  try {
    const { summary } = await runEvalToFiles({
      benchmark,
      benchmarkLabel: flags.benchmark,
      ...(leakage ? { leakage } : {}),
      config,
      provided,
      env,
      paths,
      signal: controller.signal,
      onEvent: (event) => {
        if (!flags.quiet && (event.done % 10 === 0 || event.done === event.total)) {
          process.stderr.write(`codeclm: judged ${event.done}/${event.total}\n`);
        }
      },
    });
    return summary;
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}

export function registerEval(program: Command): void {
  const command = program
    .command("eval")
    .description(
      "Evaluate a model against a reference by the paper's protocol (pairwise judge, both orders, wins-twice rule) and report CRR",
    )
    .requiredOption(
      "--benchmark <name|file>",
      `a built-in set (${EVALUATION_NAMES.join(", ")}) or a file: JSONL, JSON, CSV/TSV or text (as --seeds); a category field is used when present`,
    )
    .option("--field <name>", "the field holding the instruction")
    .addOption(
      new Option("--format <format>", "benchmark file format")
        .choices(["auto", "jsonl", "json", "csv", "tsv", "text"])
        .default("auto"),
    )
    .option("--limit <n>", "evaluate only the first N items", integer(1))
    .option(
      "--answers <file>",
      "the model under test's answers (JSONL/JSON, matched by id or instruction) instead of --model",
    )
    .option("--reference-answers <file>", "the reference's answers instead of --reference")
    .option(
      "--answer-field <name>",
      "the field holding the answer in the answers files (default: answer, response, output, completion, ...)",
    )
    .option(
      "--data <run.jsonl>",
      "the kept pairs the model was tuned on: its seeds are left out of the benchmark, and an overlap with its seeds or kept instructions is refused",
    )
    .option("--allow-overlap", "evaluate even when the benchmark overlaps --data (the overlap is reported)")
    .option("--out <dir>", "directory for eval.jsonl (one line per item) and eval.summary.json", "eval")
    .option("--force", "overwrite existing outputs");
  addRoleOptions(
    command,
    "model",
    "the model under test as provider:model (e.g. the target fine-tuned on codeclm data)",
  );
  addRoleOptions(command, "reference", "the reference model as provider:model (the paper: the strong LLM)");
  addRoleOptions(command, "judge", "the judge as provider:model (the paper: ChatGPT at temperature 0)");
  // Every evaluation setting of eval/config.ts, named, described and checked by the schema (cli/flag-names.ts).
  addSettingOptions(command, EVAL_SETTINGS);
  command
    .addOption(deprecatedMaxTokens())
    .option("--judge-prompt <file>", "judge prompt template with {question} {answer1} {answer2}")
    .option("--quiet", "print only the result")
    .action(async (flags: EvalFlags) => {
      takeDeprecatedMaxTokens(flags);
      const summary = await withOutputLock(join(flags.out, "eval.lock"), `codeclm eval --out ${flags.out}`, () =>
        evalCommand(flags),
      );
      const { evalPathsFor } = await import("../eval/output.js");
      const paths = evalPathsFor(flags.out);
      const leakage = summary.leakage ? `${describeLeakage(summary.leakage)}\n` : "";
      process.stdout.write(
        `${formatEvalSummary(summary)}\n${leakage}items -> ${paths.items}; summary -> ${paths.summary}\n`,
      );
      if (summary.status !== "complete") process.exitCode = 3;
    });
}
