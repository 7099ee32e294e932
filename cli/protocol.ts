/**
 * `codeclm protocol`: one row of the paper's Table 1 as one command. Split the benchmark (20% seeds) →
 * generate from the seeds → export the training file → stop with what to run next (the user fine-tunes the
 * target); given `--tuned SPEC` it goes on → evaluate the tuned model on the held-out part → the CRR beside
 * the paper's. Every step is reused or resumed when the same command runs again (the data by the run's own
 * fingerprint, the evaluation by its inputs: eval/ablate.ts); a changed setting is refused with what changed.
 */
import { setMaxListeners } from "node:events";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import type { AblationResult } from "../eval/ablate.js";
import { type EvalConfigInput, resolveEvalConfig } from "../eval/config.js";
import { EVALUATION_NAMES, splitSet } from "../io/benchmarks.js";
import { exists } from "../io/files.js";
import type { ExportFormat } from "../io/formats.js";
import { EXPORT_FORMATS } from "../io/formats.js";
import { readSeeds } from "../io/seeds.js";
import type { CodecConfig, RoleSettings } from "../lib/config.js";
import { PAPER_SETUP, paperCrrFor } from "../lib/paper.js";
import type { SeedSplit } from "../lib/split.js";
import { withOutputLock } from "../runner/lock.js";
import { writeJsonAtomic } from "../runner/output.js";
import { UsageError } from "./errors.js";
import { exportPairs } from "./export.js";
import { ABLATE_EVAL_SETTINGS, ABLATE_SETTINGS } from "./flag-names.js";
import { buildGenerateConfig } from "./generate-config.js";
import { decimal } from "./options.js";
import { addRoleOptions, roleFromFlags, withoutRole } from "./role-flags.js";
import { addSettingOptions, settingsFromFlags } from "./schema-flags.js";
import { withoutUrlPassword } from "./resume-command.js";
import { splitPathsFor, writeSplitFiles } from "./split.js";

interface ProtocolFlags {
  benchmark: string;
  out: string;
  fraction: number;
  exportFormat: ExportFormat;
  allowOverlap?: boolean;
  force?: boolean;
  quiet?: boolean;
  [setting: string]: unknown;
}

export interface ProtocolResult {
  benchmark: string;
  split: { seeds: number; heldOut: number; dir: string };
  data: { path: string; kept: number; requested: number; status: string };
  training: { path: string; format: ExportFormat; count: number };
  /** Absent until `--tuned` is given. */
  evaluation?: { path: string; evaluated: number; crr: number | null; overlap: number; paperCrr?: number };
  next?: string;
}

/** The split in DIR/split: written once; the same split again is reused, another one refused. */
async function ensureSplit(flags: ProtocolFlags, config: CodecConfig) {
  const parts = await splitSet(flags.benchmark, { fraction: flags.fraction }, { seed: config.seed });
  const dir = join(flags.out, "split");
  const recordPath = splitPathsFor(dir).record;
  if (!flags.force && (await exists(recordPath))) {
    const recorded = JSON.parse(await readFile(recordPath, "utf8")) as SeedSplit;
    if (JSON.stringify(recorded.ids) !== JSON.stringify(parts.split.ids)) {
      throw new UsageError(
        `${recordPath} holds another split (fraction ${recorded.fraction}, seed ${recorded.seed}; now ${flags.fraction}, ${config.seed}): the data in ${flags.out} was made from it; use another --out, or --force`,
      );
    }
    return { ...parts, dir };
  }
  await writeSplitFiles(dir, parts);
  return { ...parts, dir };
}

function evaluationSettings(
  flags: ProtocolFlags,
  config: CodecConfig,
): Omit<EvalConfigInput, "model" | "reference" | "judge"> {
  return {
    ...settingsFromFlags(flags, ABLATE_EVAL_SETTINGS),
    maxTokens: config.maxTokens,
    concurrency: config.concurrency,
  };
}

/** Every model that will be called can be built, before anything is spent. */
async function validateModels(
  config: CodecConfig,
  evaluation: { judge: RoleSettings; tuned?: RoleSettings },
  env: NodeJS.ProcessEnv,
) {
  // Providers load here, once the flags are known to be good: --help and usage errors need none.
  const [{ ModelFactory }, { evalFactory }] = await Promise.all([
    import("../models/factory.js"),
    import("../eval/run.js"),
  ]);
  ModelFactory.fromConfig(config, { env }).validate(["strong", "target"]);
  if (!evaluation.tuned) return;
  const evalConfig = resolveEvalConfig({ model: evaluation.tuned, reference: config.strong, judge: evaluation.judge });
  evalFactory(evalConfig, { env }).validate(["judge", "strong", "target"]);
}

const trainingPath = (dir: string, format: ExportFormat) => join(dir, `train.${format}.jsonl`);

function nextStep(flags: ProtocolFlags, config: CodecConfig, training: string): string {
  // A database or endpoint password given in a URL is never echoed; --force would redo everything.
  const argv = process.argv
    .slice(2)
    .filter((arg) => arg !== "--force")
    .map(withoutUrlPassword)
    .join(" ");
  return [
    `next: fine-tune ${config.target.model} on ${training} (the paper: ${PAPER_SETUP.target} on ${PAPER_SETUP.pairs} pairs),`,
    "serve it (any OpenAI-compatible server: vLLM, Ollama, llama.cpp), then run the same command with the tuned model:",
    `  codeclm ${argv} --tuned openai:YOUR-TUNED-MODEL --tuned-base-url http://localhost:8000/v1`,
  ].join("\n");
}

function resultOf(
  flags: ProtocolFlags,
  split: Awaited<ReturnType<typeof ensureSplit>>,
  ablation: AblationResult,
  training: ProtocolResult["training"],
): ProtocolResult {
  const row = ablation.rows[0]!;
  const summary = row.evaluation?.summary;
  return {
    benchmark: flags.benchmark,
    split: { seeds: split.seeds.length, heldOut: split.heldOut.length, dir: split.dir },
    data: { path: row.data!.path, kept: row.data!.kept, requested: row.data!.requested, status: row.data!.status },
    training,
    ...(summary
      ? {
          evaluation: {
            path: row.evaluation!.path,
            evaluated: summary.wins + summary.ties + summary.losses,
            crr: summary.crr,
            overlap: summary.leakage?.overlap ?? 0,
            ...(paperCrrFor(flags.benchmark) !== undefined ? { paperCrr: paperCrrFor(flags.benchmark)! } : {}),
          },
        }
      : {}),
  };
}

export async function protocolCommand(
  flags: ProtocolFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProtocolResult> {
  if (!(flags.fraction > 0 && flags.fraction < 1)) throw new UsageError("--fraction must be between 0 and 1");
  const config = await buildGenerateConfig(withoutRole(withoutRole(flags, "judge"), "tuned"), env, ABLATE_SETTINGS);
  const tuned = roleFromFlags(flags, "tuned");
  const judge = roleFromFlags(flags, "judge") ?? config.strong;
  await validateModels(config, { judge, ...(tuned ? { tuned } : {}) }, env);
  const split = await ensureSplit(flags, config);
  const note = flags.quiet ? undefined : (message: string) => process.stderr.write(`codeclm: ${message}\n`);
  note?.(`${flags.benchmark}: ${split.seeds.length} seeds, ${split.heldOut.length} held out -> ${split.dir}`);
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  try {
    const { runAblation } = await import("../eval/ablate.js");
    const ablation = await runAblation({
      seeds: split.seeds,
      split: split.split,
      benchmark: await readSeeds(split.split.file ?? flags.benchmark),
      benchmarkLabel: flags.benchmark,
      allowOverlap: flags.allowOverlap ?? false,
      config,
      rows: ["full"],
      baseline: false,
      evaluation: {
        judge,
        reference: config.strong,
        models: tuned ? { full: tuned } : {},
        answers: {},
        settings: evaluationSettings(flags, config),
      },
      dir: flags.out,
      force: flags.force ?? false,
      env,
      signal: controller.signal,
      ...(note ? { onProgress: note } : {}),
    });
    const row = ablation.rows[0]!;
    const path = trainingPath(flags.out, flags.exportFormat);
    const exported = await exportPairs(row.data!.path, {
      format: flags.exportFormat,
      out: path,
      seed: config.seed,
      force: true,
    });
    const training = { path, format: flags.exportFormat, count: exported.train.count };
    const result = resultOf(flags, split, ablation, training);
    if (!tuned) result.next = nextStep(flags, config, path);
    await writeJsonAtomic(join(flags.out, "protocol.json"), result);
    return result;
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}

const percent = (value: number | undefined) => (value === undefined ? "—" : `${value.toFixed(2)}%`);

/** The result as text: the data, and the CRR beside the paper's once the tuned model is evaluated. */
export function formatProtocol(result: ProtocolResult): string {
  const lines = [
    `seeds: ${result.split.seeds} of ${result.benchmark} (held out: ${result.split.heldOut}) -> ${result.split.dir}`,
    `data: ${result.data.kept}/${result.data.requested} pairs (${result.data.status}) -> ${result.data.path}`,
    `training file (${result.training.format}): ${result.training.count} examples -> ${result.training.path}`,
  ];
  if (!result.evaluation) return [...lines, result.next ?? ""].join("\n");
  const evaluation = result.evaluation;
  const rows = [
    ["benchmark", "items", "CRR (this run)", "CRR (paper, CodecLM)"],
    [
      result.benchmark,
      String(evaluation.evaluated),
      percent(evaluation.crr === null ? undefined : evaluation.crr * 100),
      percent(evaluation.paperCrr),
    ],
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const table = rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join("  ")
      .trimEnd(),
  );
  return [
    ...lines,
    ...table,
    `paper: ${PAPER_SETUP.target} tuned on ${PAPER_SETUP.pairs} pairs from ${PAPER_SETUP.strong}, judged by ${PAPER_SETUP.judge} (${PAPER_SETUP.source}); overlap with the data: ${evaluation.overlap}`,
    `evaluation -> ${evaluation.path}`,
  ].join("\n");
}

export function registerProtocol(program: Command): void {
  const command = program
    .command("protocol")
    .description(
      "One row of the paper's Table 1: split the benchmark (seeds), generate, export; with --tuned, evaluate on the held-out part beside the paper's CRR",
    )
    .requiredOption(
      "--benchmark <name|file>",
      `the set to split and evaluate on: ${EVALUATION_NAMES.join(", ")} or a file`,
    )
    .requiredOption(
      "--out <dir>",
      "directory for the split, the data (full.jsonl), the training file and the evaluation",
    )
    .option("--fraction <f>", "share of the benchmark taken as seeds (the paper: 0.2)", decimal(0, 1), 0.2)
    .option("--export-format <format>", `training file format: ${EXPORT_FORMATS.join(", ")}`, "openai-chat")
    .option("--allow-overlap", "evaluate even when the held-out part overlaps the data (the overlap is reported)")
    .option("--force", "redo every step in --out")
    .option("--quiet", "print only the result");
  addSettingOptions(command, ABLATE_SETTINGS);
  addSettingOptions(command, ABLATE_EVAL_SETTINGS);
  addRoleOptions(command, "strong", "strong model as provider:model (generates; the evaluation's reference)");
  addRoleOptions(command, "target", "target model as provider:model (the model to fine-tune)");
  addRoleOptions(command, "tuned", "the target fine-tuned on the data, as provider:model: evaluates it");
  addRoleOptions(
    command,
    "judge",
    "evaluation judge as provider:model (default: the strong model; the paper: ChatGPT)",
  );
  command.action(async (flags: ProtocolFlags) => {
    if (!(EXPORT_FORMATS as readonly string[]).includes(flags.exportFormat))
      throw new UsageError(`--export-format must be one of ${EXPORT_FORMATS.join(", ")}`);
    const result = await withOutputLock(join(flags.out, "protocol.lock"), `codeclm protocol --out ${flags.out}`, () =>
      protocolCommand(flags),
    );
    process.stdout.write(`${formatProtocol(result)}\n`);
    if (result.data.status === "incomplete") process.exitCode = 3;
  });
}
