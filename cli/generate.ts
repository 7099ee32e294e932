import { readFile } from "node:fs/promises";
import { type Command, Option } from "commander";
import { type CheckpointSpec, CheckpointStoreError, parseCheckpointSpec } from "../runner/durable.js";
import { InputError } from "../io/input-error.js";
import { type Tracing, hasLangSmithKey, startTracing, uploadKeptPairs } from "../runner/langsmith.js";
import { readMetadata } from "../io/metadata.js";
import { BENCHMARK_NAMES, resolveBenchmark, testSetWarning } from "../io/benchmarks.js";
import { type OutputLock, OutputLockedError, acquireOutputLock } from "../runner/lock.js";
import { createOutputFolders, existingOutputs, outputPathsFor } from "../runner/output.js";
import { RunSetupError, runToFiles } from "../runner/run.js";
import { readRunState } from "../runner/run-state.js";
import { type SeedFormat, readSeedSample } from "../io/seeds.js";
import { type Ablation, filters, rolesFor } from "../lib/ablation.js";
import { type Estimate, estimateRun } from "../lib/estimate.js";
import { PRICES_AS_OF } from "../lib/prices.js";
import { registerSecret } from "../lib/redact.js";
import { type CodecConfig, type CodecConfigInput, type PromptOverrides, inputProblems, resolveConfig, unknownSettings } from "../lib/config.js";
import type { Metadata, ModelRole, Seed } from "../lib/records.js";
import { type SeedSelection, seedSampleSize } from "../lib/seed-sample.js";
import type { RunSummary } from "../lib/summary.js";
import { RunControl } from "../models/control.js";
import { ModelFactory, strongTargetWarnings } from "../models/factory.js";
import { DEFAULT_PROMPTS, type PromptName } from "../prompts/index.js";
import { defaultRoles } from "./defaults.js";
import { UsageError } from "./errors.js";
import { GENERATE_SETTINGS } from "./flag-names.js";
import { prepareLocalModels } from "./local-models.js";
import { collect, decimal } from "./options.js";
import { type ProgressMode, createProgress } from "./progress.js";
import { addRoleOptions, roleFromFlags } from "./role-flags.js";
import { type SettingFlag, addSettingOptions, overlay, settingsFromFlags } from "./schema-flags.js";

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

const ROLES: ModelRole[] = ["strong", "target", "judge"];

async function readConfigFile(path: string): Promise<CodecConfigInput> {
  let text: string;
  let config: CodecConfigInput;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(path, undefined, `cannot read the config file: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("expected a JSON object");
    config = value as CodecConfigInput;
  } catch (error) {
    throw new InputError(path, undefined, `not a valid JSON config: ${(error as Error).message}`);
  }
  const unknown = unknownSettings(config);
  if (unknown.length > 0) throw new InputError(path, undefined, unknown.join("; "));
  return config;
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

async function readPricesFile(path: string): Promise<Record<string, { input: number; output: number }>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(path, undefined, `cannot read the prices file: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("expected a JSON object");
    return value as Record<string, { input: number; output: number }>;
  } catch (error) {
    throw new InputError(path, undefined, `not a valid prices file ({"provider:model": {"input": USD per 1M, "output": USD per 1M}}): ${(error as Error).message}`);
  }
}

/**
 * The run's roles: flags over the config file's roles over the defaults for the environment. Ablation
 * rows without filtering never call the target: the strong model stands in, unused.
 */
function rolesFrom(flags: GenerateFlags, fromFile: CodecConfigInput, ablation: Ablation, env: NodeJS.ProcessEnv): CodecConfigInput {
  const defaults = defaultRoles(env);
  const strong = roleFromFlags(flags, "strong", fromFile.strong) ?? defaults.strong;
  const target = roleFromFlags(flags, "target", fromFile.target) ?? (filters(ablation) ? defaults.target : strong);
  const judge = flags.judge || fromFile.judge ? roleFromFlags(flags, "judge", fromFile.judge ?? undefined) : undefined;
  // A judge cap alone (no judge model) applies to the strong model's endpoint, which the judge shares.
  const judgeCap = flags.judgeConcurrency as number | undefined;
  if (!judge && judgeCap !== undefined) strong.concurrency = Math.min(strong.concurrency ?? Number.POSITIVE_INFINITY, judgeCap);
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
    return resolveConfig({ ...input, ...rolesFrom(flags, fromFile, input.ablation ?? "full", env), prompts, ...(prices ? { prices } : {}) });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}


/** Quote a command-line argument for a POSIX shell when it needs it. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}

/** A password in a connection URL (postgres://user:password@host/db), or undefined. */
export function urlPassword(value: string): string | undefined {
  try {
    const url = new URL(value);
    return url.password ? decodeURIComponent(url.password) : undefined;
  } catch {
    return undefined;
  }
}

/** A connection URL without its password (`postgres://bob:pw@db/x` → `postgres://bob@db/x`); other text as is. */
export function withoutUrlPassword(arg: string): string {
  const flag = /^(--[\w-]+=)(.*)$/s.exec(arg);
  if (flag) return `${flag[1]}${withoutUrlPassword(flag[2]!)}`;
  const password = urlPassword(arg);
  if (!password) return arg;
  const start = arg.indexOf("://") + 3;
  const slash = arg.slice(start).search(/[/?#]/);
  const authority = slash < 0 ? arg.slice(start) : arg.slice(start, start + slash);
  const at = authority.lastIndexOf("@");
  const colon = authority.indexOf(":");
  if (at < 0 || colon < 0 || colon > at) return arg;
  return `${arg.slice(0, start + colon)}${arg.slice(start + at)}`;
}

/**
 * The command that continues this run: the same arguments, `--resume` instead of `--force`. A password
 * in a URL is left out, so the command runs as printed once PGPASSWORD is set (libpq and node-postgres
 * read it when the URL has no password).
 */
export function resumeCommandFrom(args: readonly string[]): string {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = withoutUrlPassword(args[i]!);
    if (arg === "--force" || arg === "--dry-run") continue;
    if (arg === "--resume") {
      if (args[i + 1] && !args[i + 1]!.startsWith("-")) i++;
      continue;
    }
    if (arg.startsWith("--resume=")) continue;
    kept.push(arg);
  }
  return ["codeclm", ...kept.map(shellQuote), "--resume"].join(" ");
}

/** What to add after a printed resume command whose database password was left out. */
export const passwordNote = (args: readonly string[]): string =>
  args.some((arg) => withoutUrlPassword(arg) !== arg) ? " (set PGPASSWORD to the database password first: it is not repeated here)" : "";

function progressMode(flags: GenerateFlags): ProgressMode {
  if (flags.json) return "json";
  if (flags.quiet) return "quiet";
  // A terminal that reports no rows (some pseudo-terminals) cannot hold a live display.
  return process.stderr.isTTY && (process.stderr.rows ?? 0) > 0 ? "tty" : "plain";
}

/** The seeds a run uses (identical ones merged, a sample sized to the pool) as the file streams, or the metadata. */
async function readInput(flags: GenerateFlags, config: CodecConfig): Promise<{ seeds: Seed[]; seedSelection: SeedSelection } | { metadata: Metadata[] }> {
  if (flags.seeds) {
    const { seeds, selection } = await readSeedSample(resolveBenchmark(flags.seeds, BENCHMARK_NAMES), {
      field: flags.field,
      format: flags.format,
      sampleSize: seedSampleSize(config.seedSample, config.poolSize),
      seed: config.seed,
      maxChars: config.maxSeedChars,
    });
    return { seeds, seedSelection: selection };
  }
  return { metadata: await readMetadata(flags.metadata!, { skillsMax: config.skillsMax }) };
}

/** One line on which seeds the run uses, e.g. "codeclm: seeds.jsonl: 20000 seeds read, 3 identical merged, a sample of 200 used (…)". */
export function describeSeedSelection(selection: SeedSelection, file: string): string {
  const merged = selection.duplicates > 0 ? `, ${selection.duplicates} identical merged` : "";
  const sampled =
    selection.sampled < selection.unique ? `, a sample of ${selection.sampled} used (--seed-sample N|all)` : `, all ${selection.sampled} used`;
  return `codeclm: ${file}: ${selection.read} seeds read${merged}${sampled}`;
}

export function estimateFor(input: { seeds: Seed[] } | { metadata: Metadata[] }, config: CodecConfig): Estimate {
  return estimateRun(
    "seeds" in input
      ? { seeds: { count: input.seeds.length, meanChars: input.seeds.reduce((sum, seed) => sum + seed.instruction.length, 0) / Math.max(1, input.seeds.length) } }
      : { metadata: input.metadata.length },
    config,
  );
}

type Budget = CodecConfig["budget"];

/**
 * Each budget set against the estimate: within it (with the headroom), or over it (how far the run
 * would get, and what budget the whole run needs). The range's high end is the pessimistic keep rate.
 */
export function budgetLines(estimate: Estimate, budget: Budget | undefined): string[] {
  if (!budget) return [];
  const { total } = estimate;
  const worst = estimate.range.reduce((a, b) => (b.calls > a.calls ? b : a), { calls: total.calls, costUsd: total.costUsd, keepPerPass: 0 });
  const lines: string[] = [];
  const compare = (flag: string, limit: number, expected: number, pessimistic: number | undefined, show: (n: number) => string) => {
    const worstCase = pessimistic !== undefined && pessimistic > expected ? ` (pessimistic: ${show(pessimistic)})` : "";
    if (expected > limit) {
      const share = Math.max(1, Math.floor((limit / expected) * 100));
      lines.push(`${flag} ${show(limit)} is below the estimate of ${show(expected)}${worstCase}: the run would stop (resumably) about ${share}% of the way.`);
    } else if (pessimistic !== undefined && pessimistic > limit) {
      lines.push(`${flag} ${show(limit)} covers the estimate of ${show(expected)} but not the pessimistic ${show(pessimistic)}.`);
    } else {
      lines.push(`${flag} ${show(limit)} covers the estimate of ${show(expected)}${worstCase}.`);
    }
  };
  const count = (n: number) => Math.round(n).toLocaleString("en-US");
  const usd = (n: number) => `$${n.toFixed(2)}`;
  if (budget.maxCalls != null) compare("--max-calls", budget.maxCalls, total.calls, worst.calls, count);
  if (budget.maxTokens != null) compare("--max-tokens", budget.maxTokens, total.inputTokens + total.outputTokens, undefined, count);
  if (budget.maxCostUsd != null) {
    if (total.unpriced.length > 0) lines.push(`--max-cost ${usd(budget.maxCostUsd)} cannot be compared: no price for ${total.unpriced.join(", ")} (give --prices FILE).`);
    else compare("--max-cost", budget.maxCostUsd, total.costUsd, worst.costUsd, usd);
  }
  return lines.map((line) => `Budget: ${line}`);
}

export function formatEstimate(estimate: Estimate, budget?: Budget): string {
  const usd = (n: number | undefined) => (n === undefined ? "no price" : `$${n.toFixed(2)}`);
  const rows = estimate.steps.map(
    (step) =>
      `  ${step.step.padEnd(16)} ${step.model.padEnd(32)} ${String(step.calls).padStart(8)} ${String(step.inputTokens).padStart(11)} ${String(step.outputTokens).padStart(11)} ${usd(step.costUsd).padStart(10)}`,
  );
  const { total, assumptions } = estimate;
  return [
    `Estimate (nothing was called): about ${estimate.instructions} instructions filtered to keep the requested pairs`,
    `  ${"step".padEnd(16)} ${"model".padEnd(32)} ${"calls".padStart(8)} ${"input tok".padStart(11)} ${"output tok".padStart(11)} ${"cost".padStart(10)}`,
    ...rows,
    `  ${"total".padEnd(16)} ${"".padEnd(32)} ${String(total.calls).padStart(8)} ${String(total.inputTokens).padStart(11)} ${String(total.outputTokens).padStart(11)} ${`$${total.costUsd.toFixed(2)}`.padStart(10)}`,
    `Assumes ${Math.round(assumptions.keepPerPass * 100)}% of instructions kept per filtering pass and answers of about ${assumptions.answerTokens} tokens; ` +
      estimate.range.map((r) => `at ${Math.round(r.keepPerPass * 100)}%: ${r.calls} calls, $${r.costUsd.toFixed(2)}`).join("; ") +
      ".",
    `Prices as of ${PRICES_AS_OF} (override with --prices FILE)${total.unpriced.length > 0 ? `; no price for ${total.unpriced.join(", ")}: tokens only` : ""}.`,
    ...(budget ? budgetLines(estimate, budget) : estimate.budgetStop ? [`This would hit a budget: ${estimate.budgetStop.message}.`] : []),
  ].join("\n");
}

export interface GenerateResult {
  summary?: RunSummary;
  estimate?: Estimate;
  /** With an estimate: the budgets it is compared with. */
  budget?: Budget;
  resume?: string;
  stopKind?: string;
  /** The signal that stopped the run (SIGINT, SIGTERM). */
  signal?: NodeJS.Signals;
}

/** The run failed part-way (a write error, a node that failed): the message says how to resume. */
export class RunFailedError extends Error {
  constructor(cause: Error, readonly resume: string) {
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
async function prepareInput(flags: GenerateFlags, env: NodeJS.ProcessEnv): Promise<{ config: CodecConfig; input: RunInput }> {
  if (Boolean(flags.seeds) === Boolean(flags.metadata)) throw new UsageError("give exactly one of --seeds FILE or --metadata FILE");
  if (flags.json && flags.quiet) throw new UsageError("--json and --quiet do not go together");
  const config = await buildGenerateConfig(flags, env);
  if (flags.metadata && config.ablation === "no-metadata") {
    throw new UsageError("--ablation no-metadata generates from seed examples: give --seeds FILE, not --metadata");
  }
  if (flags.ablationImprovements !== undefined && config.ablation !== "metadata-rubrics") {
    throw new UsageError(`--ablation-improvements applies to --ablation metadata-rubrics only (this run: ${config.ablation})`);
  }
  const input = await readInput(flags, config);
  const impossible = inputProblems(config, "seeds" in input ? { seeds: input.seeds.length } : { metadata: input.metadata.length });
  if (impossible.length > 0) throw new UsageError(impossible.join("; "));
  const narrowed = "seedSelection" in input && input.seedSelection.sampled < input.seedSelection.read;
  if (narrowed && !flags.quiet && !flags.json) process.stderr.write(`${describeSeedSelection(input.seedSelection, flags.seeds!)}\n`);
  const warning = "seeds" in input ? await testSetWarning(flags.seeds!, resolveBenchmark(flags.seeds!, BENCHMARK_NAMES), input.seeds) : undefined;
  if (warning) process.stderr.write(`${warning}\n`);
  return { config, input };
}

/** Every model buildable, LangSmith reachable, local models present, outputs free: before anything is spent. */
async function preflight(flags: GenerateFlags, config: CodecConfig, env: NodeJS.ProcessEnv): Promise<void> {
  const factory = ModelFactory.fromConfig(config, { env });
  factory.validate(rolesFor(config.ablation));
  // Said before anything is spent (and again in the summary and the final message).
  if (!flags.quiet && !flags.json) {
    for (const warning of strongTargetWarnings(factory, filters(config.ablation))) process.stderr.write(`codeclm: warning: ${warning}\n`);
  }
  if (flags.langsmithDataset && !hasLangSmithKey(env)) {
    throw new UsageError("--langsmith-dataset needs LANGSMITH_API_KEY (and LANGSMITH_ENDPOINT for a self-hosted LangSmith)");
  }
  // Local models are checked (and downloaded once, with progress) before anything is spent.
  await prepareLocalModels(config, { quiet: (flags.quiet ?? false) || (flags.json ?? false), roles: rolesFor(config.ablation) });
  if (flags.resume) return;
  const existing = await existingOutputs(outputPathsFor(flags.out, { dropped: flags.dropped, summary: flags.summary }));
  if (existing.length > 0 && !flags.force) {
    throw new UsageError(`output already exists: ${existing.join(", ")} (use --force to overwrite, or --resume to continue that run)`);
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
      control.stop({ kind: "interrupt", message: signal === "SIGINT" ? "interrupted (Ctrl-C)" : `terminated (${signal})` });
      note(`\ncodeclm: ${signal === "SIGINT" ? "stopping" : `${signal} received, stopping`}: waiting for the calls in flight to finish (${again} to cancel them)`);
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
  const uploaded = await uploadKeptPairs(keptPath, flags.langsmithDataset, { env, description: `CodecLM kept pairs (codeclm run ${summary.runId})` });
  if (!quiet) {
    note(`codeclm: ${uploaded.examples} pairs uploaded to LangSmith dataset "${flags.langsmithDataset}" (${uploaded.created ? "created" : "existing"}, id ${uploaded.datasetId})`);
  }
}

async function generateHoldingLock(flags: GenerateFlags, env: NodeJS.ProcessEnv, argv: readonly string[], lock?: OutputLock): Promise<GenerateResult> {
  const { config, input } = await prepareInput(flags, env);
  if (flags.dryRun) return { estimate: estimateFor(input, config), budget: config.budget };
  await preflight(flags, config, env);
  const paths = outputPathsFor(flags.out, { dropped: flags.dropped, summary: flags.summary });
  const checkpoint = checkpointFor(flags, paths.checkpoint);
  const mode = progressMode(flags);
  const progress = createProgress(mode, { plainIntervalMs: (flags.progressInterval ?? 10) * 1000 });
  const note = (text: string) => (mode !== "json" ? progress.note(text) : undefined);
  const control = new RunControl();
  const signals = stopOnSignals(control, note);
  const resumeCommand = resumeCommandFrom(argv);
  // Off unless LANGSMITH_TRACING=true; the root run's id is the summary's runId.
  const tracing = startTracing(env);
  try {
    const summary = await runToFiles({
      input,
      config,
      paths,
      graph: { env },
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
    await afterRun(flags, summary, paths.kept, { tracing, env, note: (text) => progress.note(text) });
    const signal = signals.signal();
    return {
      summary,
      ...(control.stopped ? { stopKind: control.stopped.kind } : {}),
      ...(signal ? { signal } : {}),
      ...(summary.status === "stopped" && checkpoint.kind !== "none" ? { resume: resumeCommand + passwordNote(argv) } : {}),
    };
  } catch (error) {
    // The run-state file says "failed" with the reason; the user is told how to continue.
    const setup = error instanceof RunSetupError || error instanceof OutputLockedError || error instanceof CheckpointStoreError;
    if (setup || checkpoint.kind === "none" || !(error instanceof Error) || (await readRunState(paths.state))?.status !== "failed") throw error;
    throw new RunFailedError(error, `${resumeCommand}${passwordNote(argv)}`);
  } finally {
    progress.close();
    signals.dispose();
  }
}

/** The shell's convention: 128 + the signal's number (SIGINT 130, SIGTERM 143). */
export const signalExitCode = (signal: NodeJS.Signals | undefined): number => (signal === "SIGTERM" ? 143 : signal === "SIGHUP" ? 129 : 130);

/** Exit codes: 0 complete, 3 ended short of --size, 4 stopped (budget, outage; resumable), 130 Ctrl-C, 143 SIGTERM. */
export function exitCodeFor(summary: RunSummary, stopKind?: string, signal?: NodeJS.Signals): number {
  if (summary.status === "complete") return 0;
  if (summary.status === "incomplete") return 3;
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
        (result.resume ? `resume with: ${result.resume}${/budget/.test(summary.stopReason) ? " (with a higher budget)" : ""}\n` : "") +
        summary.warnings.map((warning) => `warning: ${warning}\n`).join(""),
    );
  }
  process.exitCode = exitCodeFor(summary, result.stopKind, result.signal);
}

/** Input, output and run options: what is not a setting. */
function addRunOptions(command: Command): Command {
  return command
    .option("--seeds <file|name>", "seed instructions: JSONL, JSON array, CSV/TSV or plain text (one per line), or a built-in set (e.g. self-instruct-seed)")
    .option("--metadata <file>", "user-written metadata instead of seeds: JSONL/JSON of {useCase, skills}")
    .option("--field <name>", "the field holding the instruction (default: instruction, prompt, text, question, turns[0], Instruction)")
    .addOption(new Option("--format <format>", "seed file format").choices(["auto", "jsonl", "json", "csv", "tsv", "text"]).default("auto"))
    .option("--out <file>", "kept pairs, one JSON line each, appended as they are decided", "codeclm.jsonl")
    .option("--dropped <file>", "dropped instructions and failures (default: OUT.dropped.jsonl)")
    .option("--summary <file>", "run summary, written when the run ends or stops (default: OUT.summary.json)")
    .option("--force", "overwrite existing outputs (and forget the run that wrote them)")
    .option("--resume [runId]", "continue the last run for --out (or run RUN_ID) after a crash, Ctrl-C or a budget stop")
    .option("--checkpoint <where>", "checkpoints and call journal: a SQLite file (default OUT.checkpoint.sqlite), postgres://…, or none")
    .option("--keep-checkpoints", "keep checkpoints and the call journal after the run completes")
    .option("--config <file>", "JSON file with any configuration field; flags override it")
    .option("--langsmith-dataset <name>", "also upload the kept pairs as examples of this LangSmith dataset (needs LANGSMITH_API_KEY)")
    .option("--prices <file>", 'JSON prices per million tokens, over the built-in table: {"openai:my-model": {"input": 1, "output": 2}}')
    .option("--dry-run", "estimate calls, tokens and cost from the seeds and settings; call nothing")
    .option("--prompt <step=file>", "override a step's prompt template (repeatable)", collect)
    .option("--quiet", "print nothing but errors and the final line")
    .option("--json", "machine-readable events on stdout, one JSON object per line")
    .option("--progress-interval <seconds>", "seconds between progress lines when stderr is not a terminal (default 10)", decimal(0.1));
}

export function registerGenerate(program: Command): void {
  const command = program
    .command("generate")
    .description("Generate tailored instruction-response pairs from seed instructions or metadata (CodecLM)");
  addRunOptions(command);
  // Every setting of lib/config.ts, named, described and checked by the schema (cli/flag-names.ts).
  addSettingOptions(command, GENERATE_SETTINGS);
  for (const role of ROLES) {
    addRoleOptions(command, role, `${role[0]!.toUpperCase()}${role.slice(1)} model as provider:model${role === "judge" ? " (default: the strong model)" : ""}`);
  }
  command.action(async (flags: GenerateFlags) => printResult(flags, await generate(flags)));
}
