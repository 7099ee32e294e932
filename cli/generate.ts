import { resolve as resolvePath } from "node:path";
import { type Command, Option } from "commander";
import { type CheckpointSpec, parseCheckpointSpec } from "../runner/checkpoint-spec.js";
import { CheckpointStoreError, RunSetupError } from "../runner/errors.js";
import type { Tracing } from "../runner/langsmith.js";
import { readMetadata } from "../io/metadata.js";
import { BENCHMARK_NAMES, readSplit, resolveBenchmark, testSetWarning } from "../io/benchmarks.js";
import { InputError } from "../io/input-error.js";
import { type OutputLock, OutputLockedError, acquireOutputLock } from "../runner/lock.js";
import { createOutputFolders, existingOutputs, outputPathsFor } from "../runner/output.js";
import { readRunState } from "../runner/run-state.js";
import { readSeedSample } from "../io/seeds.js";
import { filters, rolesFor } from "../lib/ablation.js";
import type { Estimate } from "../lib/estimate.js";
import { registerSecret } from "../lib/redact.js";
import { type CodecConfig, inputProblems } from "../lib/config.js";
import type { Metadata, ModelRole, Seed } from "../lib/records.js";
import { type SeedSelection, firstTooLong, seedSampleSize, selectSeeds } from "../lib/seed-sample.js";
import type { SeedSplit } from "../lib/split.js";
import type { RunSummary } from "../lib/summary.js";
import { RunControl } from "../models/control.js";
import { UsageError } from "./errors.js";
import { budgetLines, formatEstimate } from "./estimate-format.js";
import { estimateFor } from "../lib/estimate.js";
import { GENERATE_SETTINGS } from "./flag-names.js";
import { ENGINES, fleetRunOptions, openEngine } from "./fleet.js";
import { type GenerateFlags, buildGenerateConfig } from "./generate-config.js";
import { collect, decimal } from "./options.js";
import type { ProgressMode } from "./progress.js";
import { passwordNote, resumeCommandFrom, urlPassword } from "./resume-command.js";
import { addRoleOptions } from "./role-flags.js";
import { addSettingOptions } from "./schema-flags.js";

// Moved out of this file; still importable from it.
export { type GenerateFlags, buildGenerateConfig } from "./generate-config.js";
export { budgetLines, formatEstimate } from "./estimate-format.js";
export { estimateFor } from "../lib/estimate.js";
export { passwordNote, resumeCommandFrom, urlPassword, withoutUrlPassword } from "./resume-command.js";

const ROLES: ModelRole[] = ["strong", "target", "judge"];

// What a run needs (LangGraph, providers, checkpointers, LangSmith, the live display), loaded when it starts:
// --help, usage errors and a dry run load none of it.
const runModules = async () => {
  const [run, factory, batch, langsmith, local, progress] = await Promise.all([
    import("../runner/run.js"),
    import("../models/factory.js"),
    import("../models/batch/sender.js"),
    import("../runner/langsmith.js"),
    import("./local-models.js"),
    import("./progress.js"),
  ]);
  return { ...run, ...factory, ...batch, ...langsmith, ...local, ...progress };
};

function progressMode(flags: GenerateFlags): ProgressMode {
  if (flags.json) return "json";
  if (flags.quiet) return "quiet";
  // A terminal that reports no rows (some pseudo-terminals) cannot hold a live display.
  return process.stderr.isTTY && (process.stderr.rows ?? 0) > 0 ? "tty" : "plain";
}

/** The seeds a run uses (identical ones merged, a sample sized to the pool) as the file streams, or the metadata. */
async function readInput(
  flags: GenerateFlags,
  config: CodecConfig,
): Promise<{ seeds: Seed[]; seedSelection: SeedSelection } | { metadata: Metadata[] }> {
  if (flags.seeds) {
    const split = await readSplit(flags.seeds, { seed: config.seed, field: flags.field, format: flags.format });
    if (split) return splitInput(flags.seeds, split, config);
    const path = resolveBenchmark(flags.seeds, BENCHMARK_NAMES);
    const { seeds, selection } = await readSeedSample(path, {
      field: flags.field,
      format: flags.format,
      sampleSize: seedSampleSize(config.seedSample, config.poolSize),
      seed: config.seed,
      maxChars: config.maxSeedChars,
    });
    // Which items of which file were seeds: `eval --data` checks the benchmark against them.
    const source = { set: flags.seeds, file: resolvePath(path), items: selection.read, whole: true };
    return {
      seeds,
      seedSelection: { ...selection, split: { ...source, seed: config.seed, ids: seeds.map((s) => s.id) } },
    };
  }
  return { metadata: await readMetadata(flags.metadata!, { skillsMax: config.skillsMax }) };
}

/** The seeds of a split (`--seeds vicuna:20%`), sampled as any seeds are; the split is recorded with them. */
function splitInput(
  spec: string,
  split: NonNullable<Awaited<ReturnType<typeof readSplit>>>,
  config: CodecConfig,
): { seeds: Seed[]; seedSelection: SeedSelection } {
  const tooLong = firstTooLong(split.seeds, config.maxSeedChars);
  if (tooLong) {
    throw new InputError(
      spec,
      undefined,
      `item "${tooLong.id}" is ${tooLong.instruction.length} characters long, over the limit of ${config.maxSeedChars} (--max-seed-chars)`,
    );
  }
  const { seeds, selection } = selectSeeds(split.seeds, {
    sampleSize: seedSampleSize(config.seedSample, config.poolSize),
    seed: config.seed,
  });
  return { seeds, seedSelection: { ...selection, split: split.split } };
}

/** One line on a split, e.g. "codeclm: vicuna: 16 of 80 items as seeds (--seed 42), 64 held out for evaluation". */
export function describeSplit(split: SeedSplit): string {
  const held = split.items - split.ids.length;
  return `codeclm: ${split.set}: ${split.ids.length} of ${split.items} items as seeds (--seed ${split.seed}), ${held} held out for evaluation`;
}

/** One line on which seeds the run uses, e.g. "codeclm: seeds.jsonl: 20000 seeds read, 3 identical merged, a sample of 200 used (…)". */
export function describeSeedSelection(selection: SeedSelection, file: string): string {
  const merged = selection.duplicates > 0 ? `, ${selection.duplicates} identical merged` : "";
  const sampled =
    selection.sampled < selection.unique
      ? `, a sample of ${selection.sampled} used (--seed-sample N|all)`
      : `, all ${selection.sampled} used`;
  return `codeclm: ${file}: ${selection.read} seeds read${merged}${sampled}`;
}

export interface GenerateResult {
  summary?: RunSummary;
  estimate?: Estimate;
  /** With an estimate: the budgets it is compared with. */
  budget?: CodecConfig["budget"];
  resume?: string;
  stopKind?: string;
  /** The signal that stopped the run (SIGINT, SIGTERM). */
  signal?: NodeJS.Signals;
}

/** The run failed part-way (a write error, a node that failed): the message says how to resume. */
export class RunFailedError extends Error {
  constructor(
    cause: Error,
    readonly resume: string,
  ) {
    super(`${cause.message}\nfix the cause, then resume with: ${resume}`, { cause });
  }
}

/**
 * One writer per output set: the lock is taken before anything else (a second `generate` on the same
 * `--out`, with or without --resume or --force, is refused at once, naming the process that writes).
 */
export async function generate(
  flags: GenerateFlags,
  env: NodeJS.ProcessEnv = process.env,
  argv: readonly string[] = process.argv.slice(2),
): Promise<GenerateResult> {
  if (flags.dryRun) return generateHoldingLock(flags, env, argv);
  const paths = outputPathsFor(flags.out, { dropped: flags.dropped, summary: flags.summary });
  await createOutputFolders([paths.lock]);
  const lock = await acquireOutputLock(paths.lock, `codeclm generate --out ${flags.out}`);
  try {
    return await generateHoldingLock(flags, env, argv, lock);
  } finally {
    await lock.release();
  }
}

type RunInput = { seeds: Seed[]; seedSelection: SeedSelection } | { metadata: Metadata[] };

/** Settings and input, checked before any model is called (the settings first: they size the seed sample). */
async function prepareInput(
  flags: GenerateFlags,
  env: NodeJS.ProcessEnv,
): Promise<{ config: CodecConfig; input: RunInput }> {
  if (Boolean(flags.seeds) === Boolean(flags.metadata))
    throw new UsageError("give exactly one of --seeds FILE or --metadata FILE");
  if (flags.json && flags.quiet) throw new UsageError("--json and --quiet do not go together");
  const config = await buildGenerateConfig(flags, env);
  if (flags.metadata && config.ablation === "no-metadata") {
    throw new UsageError("--ablation no-metadata generates from seed examples: give --seeds FILE, not --metadata");
  }
  if (flags.ablationImprovements !== undefined && config.ablation !== "metadata-rubrics") {
    throw new UsageError(
      `--ablation-improvements applies to --ablation metadata-rubrics only (this run: ${config.ablation})`,
    );
  }
  const input = await readInput(flags, config);
  const impossible = inputProblems(
    config,
    "seeds" in input ? { seeds: input.seeds.length } : { metadata: input.metadata.length },
  );
  if (impossible.length > 0) throw new UsageError(impossible.join("; "));
  const narrowed = "seedSelection" in input && input.seedSelection.sampled < input.seedSelection.read;
  if (narrowed && !flags.quiet && !flags.json)
    process.stderr.write(`${describeSeedSelection(input.seedSelection, flags.seeds!)}\n`);
  const split = "seedSelection" in input ? input.seedSelection.split : undefined;
  if (split && !split.whole && !flags.quiet && !flags.json) process.stderr.write(`${describeSplit(split)}\n`);
  const warning =
    "seeds" in input
      ? await testSetWarning(flags.seeds!, resolveBenchmark(flags.seeds!, BENCHMARK_NAMES), input.seeds)
      : undefined;
  if (warning) process.stderr.write(`${warning}\n`);
  return { config, input };
}

/** Every model buildable, LangSmith reachable, local models present, outputs free: before anything is spent. */
async function preflight(flags: GenerateFlags, config: CodecConfig, env: NodeJS.ProcessEnv): Promise<void> {
  const { ModelFactory, strongTargetWarnings, batchWarnings, hasLangSmithKey, prepareLocalModels } = await runModules();
  const factory = ModelFactory.fromConfig(config, { env });
  factory.validate(rolesFor(config.ablation));
  // Said before anything is spent (and again in the summary and the final message).
  if (!flags.quiet && !flags.json) {
    const roles = rolesFor(config.ablation);
    for (const warning of [
      ...strongTargetWarnings(factory, filters(config.ablation)),
      ...batchWarnings(config, factory, roles),
    ])
      process.stderr.write(`codeclm: warning: ${warning}\n`);
  }
  if (flags.langsmithDataset && !hasLangSmithKey(env)) {
    throw new UsageError(
      "--langsmith-dataset needs LANGSMITH_API_KEY (and LANGSMITH_ENDPOINT for a self-hosted LangSmith)",
    );
  }
  // Local models are checked (and downloaded once, with progress) before anything is spent.
  await prepareLocalModels(config, {
    quiet: (flags.quiet ?? false) || (flags.json ?? false),
    roles: rolesFor(config.ablation),
  });
  if (flags.resume) return;
  const existing = await existingOutputs(outputPathsFor(flags.out, { dropped: flags.dropped, summary: flags.summary }));
  if (existing.length > 0 && !flags.force) {
    throw new UsageError(
      `output already exists: ${existing.join(", ")} (use --force to overwrite, or --resume to continue that run)`,
    );
  }
}

function checkpointFor(flags: GenerateFlags, defaultPath: string): CheckpointSpec {
  try {
    // Never echo a database password: not in errors, not in the run-state file.
    registerSecret(flags.checkpoint ? urlPassword(flags.checkpoint) : undefined);
    return parseCheckpointSpec(flags.checkpoint, defaultPath);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** First Ctrl-C (or SIGTERM): stop cleanly (calls in flight finish and are recorded). Second: cancel them too. Third: exit. */
function stopOnSignals(control: RunControl, note: (text: string) => void) {
  let interrupts = 0;
  let stopSignal: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    stopSignal ??= signal;
    const again = signal === "SIGINT" ? "Ctrl-C again" : `${signal} again`;
    if (interrupts === 1) {
      control.stop({
        kind: "interrupt",
        message: signal === "SIGINT" ? "interrupted (Ctrl-C)" : `terminated (${signal})`,
      });
      note(
        `\ncodeclm: ${signal === "SIGINT" ? "stopping" : `${signal} received, stopping`}: waiting for the calls in flight to finish (${again} to cancel them)`,
      );
    } else if (interrupts === 2) {
      control.abortNow();
      note("codeclm: cancelling the calls in flight (they may be paid again on resume)");
    } else {
      process.exit(signalExitCode(stopSignal));
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: () => stopSignal,
    dispose: () => {
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
    },
  };
}

/** After a run: say where it was traced, and upload the kept pairs of a complete run to LangSmith. */
async function afterRun(
  flags: GenerateFlags,
  summary: RunSummary,
  keptPath: string,
  context: { tracing: Tracing | undefined; env: NodeJS.ProcessEnv; note: (text: string) => void },
): Promise<void> {
  const { tracing, env, note } = context;
  await tracing?.flush();
  const quiet = (flags.quiet ?? false) || (flags.json ?? false);
  if (tracing && !quiet) note(`codeclm: traced to LangSmith project "${tracing.project}", root run ${summary.runId}`);
  if (!flags.langsmithDataset || summary.status !== "complete") return;
  const { uploadKeptPairs } = await runModules();
  const uploaded = await uploadKeptPairs(keptPath, flags.langsmithDataset, {
    env,
    description: `CodecLM kept pairs (codeclm run ${summary.runId})`,
  });
  if (!quiet) {
    note(
      `codeclm: ${uploaded.examples} pairs uploaded to LangSmith dataset "${flags.langsmithDataset}" (${uploaded.created ? "created" : "existing"}, id ${uploaded.datasetId})`,
    );
  }
}

async function generateHoldingLock(
  flags: GenerateFlags,
  env: NodeJS.ProcessEnv,
  argv: readonly string[],
  lock?: OutputLock,
): Promise<GenerateResult> {
  const { config, input } = await prepareInput(flags, env);
  if (flags.dryRun) return { estimate: estimateFor(input, config), budget: config.budget };
  await preflight(flags, config, env);
  const paths = outputPathsFor(flags.out, { dropped: flags.dropped, summary: flags.summary });
  const checkpoint = checkpointFor(flags, paths.checkpoint);
  const mode = progressMode(flags);
  const { createProgress, startTracing, runToFiles } = await runModules();
  const progress = createProgress(mode, { plainIntervalMs: (flags.progressInterval ?? 10) * 1000 });
  const note = (text: string) => (mode !== "json" ? progress.note(text) : undefined);
  const control = new RunControl();
  const signals = stopOnSignals(control, note);
  const resumeCommand = resumeCommandFrom(argv);
  // Off unless LANGSMITH_TRACING=true; the root run's id is the summary's runId.
  const tracing = startTracing(env);
  const fleet = await openEngine(flags.engine as string | undefined, checkpoint);
  try {
    const summary = await runToFiles({
      input,
      config,
      paths,
      graph: { env, ...(fleet ? { instructionExecutor: fleet.executor } : {}) },
      ...fleetRunOptions(fleet),
      checkpoint,
      ...(flags.resume ? { resume: flags.resume } : {}),
      ...(lock ? { outputLock: lock } : {}),
      control,
      resumeCommand: () => resumeCommand,
      keepCheckpoints: flags.keepCheckpoints ?? false,
      progressIntervalMs: mode === "json" ? 1000 : 250,
      onEvent: (event) => progress.onEvent(event),
      callbacks: tracing?.callbacks,
    });
    await fleet?.recordSummary(paths.summary, summary.runId);
    await afterRun(flags, summary, paths.kept, { tracing, env, note: (text) => progress.note(text) });
    const signal = signals.signal();
    return {
      summary,
      ...(control.stopped ? { stopKind: control.stopped.kind } : {}),
      ...(signal ? { signal } : {}),
      ...(summary.status === "stopped" && checkpoint.kind !== "none"
        ? { resume: resumeCommand + passwordNote(argv) }
        : {}),
    };
  } catch (error) {
    // The run-state file says "failed" with the reason; the user is told how to continue.
    const setup =
      error instanceof RunSetupError || error instanceof OutputLockedError || error instanceof CheckpointStoreError;
    if (
      setup ||
      checkpoint.kind === "none" ||
      !(error instanceof Error) ||
      (await readRunState(paths.state))?.status !== "failed"
    )
      throw error;
    throw new RunFailedError(error, `${resumeCommand}${passwordNote(argv)}`);
  } finally {
    progress.close();
    signals.dispose();
    await fleet?.close();
  }
}

/** The shell's convention: 128 + the signal's number (SIGINT 130, SIGTERM 143). */
export const signalExitCode = (signal: NodeJS.Signals | undefined): number =>
  signal === "SIGTERM" ? 143 : signal === "SIGHUP" ? 129 : 130;

/** Exit codes: 0 complete, 3 ended short of --size, 4 stopped (budget, outage; resumable), 5 waiting for the pool's review (--review-pool), 130 Ctrl-C, 143 SIGTERM. */
export function exitCodeFor(summary: RunSummary, stopKind?: string, signal?: NodeJS.Signals): number {
  if (summary.status === "complete") return 0;
  if (summary.status === "incomplete") return 3;
  if (stopKind === "review") return 5;
  return stopKind === "interrupt" ? signalExitCode(signal) : 4;
}

/** The run's outcome on stdout (or the estimate of a dry run), and the exit code. */
function printResult(flags: GenerateFlags, result: GenerateResult): void {
  if (result.estimate) {
    process.stdout.write(
      flags.json
        ? `${JSON.stringify({ event: "estimate", ...result.estimate, budgets: budgetLines(result.estimate, result.budget) })}\n`
        : `${formatEstimate(result.estimate, result.budget)}\n`,
    );
    return;
  }
  const summary = result.summary!;
  const paths = outputPathsFor(flags.out, { dropped: flags.dropped, summary: flags.summary });
  if (!flags.json) {
    const word = summary.status === "complete" ? "done" : summary.status;
    process.stdout.write(
      `${word}: kept ${summary.kept}/${summary.requested} -> ${paths.kept}; dropped -> ${paths.dropped}; summary -> ${paths.summary}\n${summary.stopReason}\n` +
        (summary.poolMakeup?.warning ? `warning: ${summary.poolMakeup.warning}\n` : "") +
        (result.resume
          ? `resume with: ${result.resume}${/budget/.test(summary.stopReason) ? " (with a higher budget)" : ""}\n`
          : "") +
        summary.warnings.map((warning) => `warning: ${warning}\n`).join(""),
    );
  }
  process.exitCode = exitCodeFor(summary, result.stopKind, result.signal);
}

/** Input, output and run options: what is not a setting. */
function addRunOptions(command: Command): Command {
  return command
    .option(
      "--seeds <file|name>",
      "seed instructions: JSONL, JSON array, CSV/TSV or plain text (one per line), or a built-in set (e.g. self-instruct-seed)",
    )
    .option("--metadata <file>", "user-written metadata instead of seeds: JSONL/JSON of {useCase, skills}")
    .option(
      "--field <name>",
      "the field holding the instruction (default: instruction, prompt, text, question, turns[0], Instruction)",
    )
    .addOption(
      new Option("--format <format>", "seed file format")
        .choices(["auto", "jsonl", "json", "csv", "tsv", "text"])
        .default("auto"),
    )
    .option("--out <file>", "kept pairs, one JSON line each, appended as they are decided", "codeclm.jsonl")
    .option("--dropped <file>", "dropped instructions and failures (default: OUT.dropped.jsonl)")
    .option("--summary <file>", "run summary, written when the run ends or stops (default: OUT.summary.json)")
    .option("--force", "overwrite existing outputs (and forget the run that wrote them)")
    .option(
      "--resume [runId]",
      "continue the last run for --out (or run RUN_ID) after a crash, Ctrl-C or a budget stop",
    )
    .option(
      "--checkpoint <where>",
      "checkpoints and call journal: a SQLite file (default OUT.checkpoint.sqlite), postgres://…, or none",
    )
    .option("--keep-checkpoints", "keep checkpoints and the call journal after the run completes")
    .addOption(
      new Option("--engine <engine>", "where instructions are filtered: here, or by `codeclm worker`s (dbos)")
        .choices(ENGINES)
        .default("local"),
    )
    .option("--config <file>", "JSON file with any configuration field; flags override it")
    .option(
      "--langsmith-dataset <name>",
      "also upload the kept pairs as examples of this LangSmith dataset (needs LANGSMITH_API_KEY)",
    )
    .option(
      "--prices <file>",
      'JSON prices per million tokens, over the built-in table: {"openai:my-model": {"input": 1, "output": 2}}',
    )
    .option("--dry-run", "estimate calls, tokens and cost from the seeds and settings; call nothing")
    .option("--prompt <step=file>", "override a step's prompt template (repeatable)", collect)
    .option("--quiet", "print nothing but errors and the final line")
    .option("--json", "machine-readable events on stdout, one JSON object per line")
    .option(
      "--progress-interval <seconds>",
      "seconds between progress lines when stderr is not a terminal (default 10)",
      decimal(0.1),
    );
}

export function registerGenerate(program: Command): void {
  const command = program
    .command("generate")
    .description("Generate tailored instruction-response pairs from seed instructions or metadata (CodecLM)");
  addRunOptions(command);
  // Every setting of lib/config.ts, named, described and checked by the schema (cli/flag-names.ts).
  addSettingOptions(command, GENERATE_SETTINGS);
  for (const role of ROLES) {
    addRoleOptions(
      command,
      role,
      `${role[0]!.toUpperCase()}${role.slice(1)} model as provider:model${role === "judge" ? " (default: the strong model)" : ""}`,
    );
  }
  command.action(async (flags: GenerateFlags) => printResult(flags, await generate(flags)));
}
