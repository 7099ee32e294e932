/**
 * The paper's ablation (Table 3): generate the four rows at the same size from the same seeds, then evaluate
 * each against a benchmark by the paper's protocol.
 *
 * What is evaluated, honestly: the paper fine-tunes the target on each row's data and compares the tuned
 * target with the strong model. Fine-tuning is outside this tool, so a row is evaluated only when the user
 * names the model fine-tuned on it (`--model-for ROW=SPEC`, `--model-template`) or gives that model's answers
 * (`--answers-for ROW=FILE`). Without one, the row's data is generated and the table says "not evaluated".
 * Generated rows and evaluations already on disk are reused, so the usual flow is: run once to generate,
 * fine-tune on each `DIR/ROW.jsonl`, run again with the tuned models to evaluate. Reuse is keyed on a
 * fingerprint of everything that made them: a row's data on its seeds, every data-shaping setting and the
 * models (the run's own fingerprint, `ROW.run.json`); an evaluation on the benchmark's items, the model
 * under test (or its answers), the reference, the judge, the evaluation settings and the row's data
 * (`ROW.eval/inputs.json`). A row made from other inputs is refused with what changed (it may be what a
 * model was fine-tuned on); an evaluation made from other inputs is redone, saying why.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { GraphDeps } from "../nodes/runtime.js";
import { existingOutputs, outputPathsFor } from "../runner/output.js";
import { RunSetupError, runToFiles } from "../runner/run.js";
import { dataSettings, readRunState, runFingerprint, settingChanges } from "../runner/run-state.js";
import { type Ablation, TABLE3, filters } from "../lib/ablation.js";
import { type CodecConfig, CodecConfigSchema, type RoleSettings, resolveConfig } from "../lib/config.js";
import type { Seed } from "../lib/records.js";
import type { RunSummary } from "../lib/summary.js";
import { type EvalConfig, type EvalConfigInput, resolveEvalConfig } from "./config.js";
import { evalPathsFor, runEvalToFiles } from "./output.js";
import { EvalItemSchema, type EvalSummary } from "./records.js";
import type { EvalDeps, ProvidedAnswers } from "./run.js";
import { exists } from "../io/files.js";
import { sameSet } from "../io/benchmarks.js";
import { readRunData } from "../io/run-data.js";
import { type SeedSelection, seedSampleSize, selectSeeds } from "../lib/seed-sample.js";
import type { SeedSplit } from "../lib/split.js";
import { type LeakageSummary, leakageOf, leakageSummary, refuseOverlap } from "./leakage.js";

/** The rows of the table: Table 3's four, plus the untuned target as a baseline when asked. */
export type AblationRowName = Ablation | "baseline";

export interface AblateOptions {
  seeds: Seed[];
  benchmark: Seed[];
  benchmarkLabel: string;
  /** The seeds are this split of a set (`--seeds vicuna:20%`): recorded in each row's summary. */
  split?: SeedSplit;
  /** Evaluate even when the benchmark overlaps a row's data (the overlap is reported). */
  allowOverlap?: boolean;
  /** The generation settings shared by every row (the row sets `ablation`). */
  config: CodecConfig;
  rows: Ablation[];
  /** Also evaluate the untuned target (`config.target`): the CRR the rows start from. */
  baseline: boolean;
  evaluation: {
    judge: RoleSettings;
    reference: RoleSettings;
    /** The model fine-tuned on each row's data. */
    models: Partial<Record<Ablation, RoleSettings>>;
    /** Answers of the model fine-tuned on each row's data, instead of a model. */
    answers: Partial<Record<Ablation, ProvidedAnswers>>;
    settings?: Omit<EvalConfigInput, "model" | "reference" | "judge">;
  };
  dir: string;
  force: boolean;
  env?: NodeJS.ProcessEnv;
  /** Test seams: chat models for generation and for evaluation. */
  graph?: GraphDeps;
  evalDeps?: EvalDeps;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface AblationRowResult {
  row: AblationRowName;
  label: string;
  paperCrr?: number;
  data?: { path: string; kept: number; requested: number; status: RunSummary["status"]; reused: boolean };
  evaluation?: { path: string; summary: EvalSummary; reused: boolean };
  /** Why the row has no evaluation. */
  notEvaluated?: string;
}

export interface AblationResult {
  benchmark: string;
  reference: string;
  judge: string;
  rows: AblationRowResult[];
}

const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(path, "utf8")) as T;

const digest = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex");

/** Why a row's data on disk cannot be reused, or undefined when it was made from exactly these inputs. */
function rowMismatch(
  recorded: { fingerprint: string; settings?: Record<string, unknown> },
  config: CodecConfig,
  fingerprint: string,
): string | undefined {
  if (recorded.fingerprint === fingerprint) return undefined;
  const changes = settingChanges(recorded.settings ?? {}, dataSettings(config));
  return changes.length > 0 ? changes.join("; ") : "the seeds differ";
}

/**
 * A row's settings. Rows without filtering never call the target or the judge and never compare a gap
 * with θ: those settings are reset (the strong model stands in for the unused roles, as `generate` does),
 * so that changing them for the full row does not make the other rows look stale.
 */
export function rowConfig(config: CodecConfig, ablation: Ablation): CodecConfig {
  if (filters(ablation)) return resolveConfig({ ...config, ablation });
  const defaults = CodecConfigSchema.parse({});
  return resolveConfig({
    ...config,
    ablation,
    target: config.strong,
    judge: null,
    theta: defaults.theta,
    maxIterations: defaults.maxIterations,
  });
}

interface RowPlan {
  ablation: Ablation;
  paths: ReturnType<typeof outputPathsFor>;
  config: CodecConfig;
  fingerprint: string;
  action: "reuse" | "resume" | "generate";
}

/**
 * What to do with a row's data: reuse it (made from these inputs), resume it (same inputs, stopped or
 * crashed), or generate it; made from other inputs, a refusal naming what changed.
 */
async function planRow(options: AblateOptions, ablation: Ablation): Promise<RowPlan | { refusal: string }> {
  const paths = outputPathsFor(join(options.dir, `${ablation}.jsonl`));
  const config = rowConfig(options.config, ablation);
  const fingerprint = runFingerprint(config, { seeds: options.seeds, ...seedSelectionOf(options, config) });
  const plan = { ablation, paths, config, fingerprint };
  if (options.force || (await existingOutputs(paths)).length === 0) return { ...plan, action: "generate" };
  const recorded = await readRunState(paths.state);
  if (!recorded) return { refusal: `${paths.kept} has no ${paths.state}: what made it cannot be checked` };
  const mismatch = rowMismatch(recorded, config, fingerprint);
  if (mismatch) return { refusal: `${paths.kept} was made from other inputs (${mismatch})` };
  return { ...plan, action: recorded.status === "complete" || recorded.status === "incomplete" ? "reuse" : "resume" };
}

/** The seeds' selection with the split they came from, so that each row's summary records it. */
function seedSelectionOf(options: AblateOptions, config: CodecConfig): { seedSelection?: SeedSelection } {
  if (!options.split) return {};
  const sampleSize = seedSampleSize(config.seedSample, config.poolSize);
  const { selection } = selectSeeds(options.seeds, { sampleSize, seed: config.seed });
  return { seedSelection: { ...selection, split: options.split } };
}

/**
 * The benchmark items a row is evaluated on: without its data's seeds when they are a split of the
 * benchmark, refused when the rest overlaps the data (unless allowed). The baseline has no data: it
 * leaves out the split's seeds only, so that it is evaluated on the same items as the rows.
 */
async function rowBenchmark(
  options: AblateOptions,
  dataPath: string | undefined,
): Promise<{ benchmark: Seed[]; leakage?: LeakageSummary }> {
  if (!dataPath) {
    const split = options.split;
    if (!split || split.whole || !sameSet(options.benchmarkLabel, split.file ?? split.set)) {
      return { benchmark: options.benchmark };
    }
    const ids = new Set(split.ids);
    return { benchmark: options.benchmark.filter((item) => !ids.has(item.id)) };
  }
  const data = await readRunData(dataPath);
  const check = leakageOf(options.benchmarkLabel, options.benchmark, data);
  const leakage = leakageSummary(check, data, options.allowOverlap ?? false);
  refuseOverlap(options.benchmarkLabel, leakage);
  return { benchmark: check.evaluated, leakage };
}

async function generateRow(options: AblateOptions, plan: RowPlan): Promise<NonNullable<AblationRowResult["data"]>> {
  const { ablation, paths, config } = plan;
  if (plan.action === "reuse") {
    const summary = await readJson<RunSummary>(paths.summary);
    options.onProgress?.(`${ablation}: reusing ${paths.kept} (same seeds, settings and models)`);
    return { path: paths.kept, kept: summary.kept, requested: summary.requested, status: summary.status, reused: true };
  }
  options.onProgress?.(
    `${ablation}: ${plan.action === "resume" ? "resuming" : "generating"} ${config.size} pairs -> ${paths.kept}`,
  );
  const summary = await runToFiles({
    input: { seeds: options.seeds, ...seedSelectionOf(options, config) },
    config,
    paths,
    graph: { env: options.env, ...options.graph },
    signal: options.signal,
    // Same inputs, but the run stopped or crashed: continue it rather than start again.
    ...(plan.action === "resume" ? { resume: true } : {}),
  });
  return { path: paths.kept, kept: summary.kept, requested: summary.requested, status: summary.status, reused: false };
}

/** What an evaluation is made from; its digest decides whether an evaluation on disk can be reused. */
export interface EvaluationInputs {
  benchmark: { label: string; items: number; digest: string };
  /** The model under test, or the digest of its answers file. */
  model: string;
  reference: string;
  judge: string;
  /** The evaluation settings that change its result (not retries or concurrency). */
  settings: Pick<EvalConfig, "answerTemperature" | "judgeTemperature" | "maxTokens"> & { judgePrompt: string | null };
  /** Fingerprint of the row's data the model was fine-tuned on (none for the baseline). */
  data: string | null;
}

function answersDigest(answers: ProvidedAnswers): string {
  return `answers ${answers.label} sha256:${digest([...answers.answers.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
}

export function evaluationInputs(options: {
  benchmark: readonly Seed[];
  benchmarkLabel: string;
  model: RoleSettings | undefined;
  answers: ProvidedAnswers | undefined;
  reference: RoleSettings;
  judge: RoleSettings;
  config: EvalConfig;
  data: string | undefined;
}): EvaluationInputs {
  const { config } = options;
  return {
    benchmark: {
      label: options.benchmarkLabel,
      items: options.benchmark.length,
      digest: digest(options.benchmark.map((item) => [item.id, item.instruction])),
    },
    model: options.answers ? answersDigest(options.answers) : options.model!.model,
    reference: options.reference.model,
    judge: options.judge.model,
    settings: {
      answerTemperature: config.answerTemperature,
      judgeTemperature: config.judgeTemperature,
      maxTokens: config.maxTokens,
      judgePrompt: config.judgePrompt?.trim() ? config.judgePrompt : null,
    },
    data: options.data ?? null,
  };
}

/** What differs between the inputs of an evaluation on disk and the wanted one, in words. */
export function evaluationChanges(before: EvaluationInputs, after: EvaluationInputs): string[] {
  const changes: string[] = [];
  if (before.benchmark.digest !== after.benchmark.digest) {
    changes.push(
      `benchmark ${before.benchmark.label} (${before.benchmark.items} items) → ${after.benchmark.label} (${after.benchmark.items} items)`,
    );
  }
  for (const key of ["model", "reference", "judge"] as const) {
    if (before[key] !== after[key]) changes.push(`${key} ${before[key]} → ${after[key]}`);
  }
  if (JSON.stringify(before.settings) !== JSON.stringify(after.settings)) changes.push("evaluation settings differ");
  if (before.data !== after.data) changes.push("the row's data was regenerated");
  return changes;
}

const inputsPathOf = (paths: { summary: string }) => join(paths.summary, "..", "inputs.json");

async function readInputs(path: string): Promise<EvaluationInputs | undefined> {
  try {
    return await readJson<EvaluationInputs>(path);
  } catch {
    return undefined;
  }
}

/**
 * Evaluate one row (reused when an evaluation made from the same inputs is on disk); returns the reference
 * answers the next rows share (the ones given, or this row's when it answered every item).
 */
async function evaluateRow(
  options: AblateOptions,
  result: AblationRowResult,
  fingerprints: ReadonlyMap<Ablation, string>,
  sharedReference: ProvidedAnswers | undefined,
): Promise<ProvidedAnswers | undefined> {
  const { evaluation } = options;
  const referenceLabel = evaluation.reference.model;
  const row = result.row;
  const model = row === "baseline" ? options.config.target : evaluation.models[row];
  const answers = row === "baseline" ? undefined : evaluation.answers[row];
  if (!model && !answers) {
    result.notEvaluated = `fine-tune the target on ${result.data?.path ?? "the row's data"}, then pass --model-for ${row}=SPEC or --answers-for ${row}=FILE`;
    return sharedReference;
  }
  const paths = evalPathsFor(join(options.dir, `${row}.eval`));
  const wanted = answers ? answers.label : model!.model;
  const { benchmark, leakage } = await rowBenchmark(options, result.data?.path);
  // Rows evaluated on other items (their data overlaps differently) get their own reference answers.
  const shared =
    sharedReference && benchmark.every((item) => sharedReference!.answers.has(item.id)) ? sharedReference : undefined;
  const config = resolveEvalConfig({
    ...evaluation.settings,
    model: answers ? null : model,
    reference: shared ? null : evaluation.reference,
    judge: evaluation.judge,
  });
  const inputs = evaluationInputs({
    benchmark,
    benchmarkLabel: options.benchmarkLabel,
    model,
    answers,
    reference: evaluation.reference,
    judge: evaluation.judge,
    config,
    data: row === "baseline" ? undefined : fingerprints.get(row),
  });
  if (!options.force && (await exists(paths.summary))) {
    const previous = await readInputs(inputsPathOf(paths));
    const changes = previous ? evaluationChanges(previous, inputs) : ["no inputs.json: what made it cannot be checked"];
    if (changes.length === 0) {
      options.onProgress?.(
        `${row}: reusing the evaluation in ${paths.summary} (same benchmark, models, judge and data)`,
      );
      result.evaluation = { path: paths.summary, summary: await readJson<EvalSummary>(paths.summary), reused: true };
      return sharedReference ?? (await referenceAnswersOf(paths.items, referenceLabel, benchmark));
    }
    options.onProgress?.(
      `${row}: redoing the evaluation in ${paths.summary}: it was made from other inputs (${changes.join("; ")})`,
    );
  }
  // Until the new evaluation is whole, nothing on disk claims to match these inputs.
  await rm(inputsPathOf(paths), { force: true });
  options.onProgress?.(`${row}: evaluating ${wanted} against ${referenceLabel} on ${benchmark.length} items`);
  const provided: Partial<Record<"model" | "reference", ProvidedAnswers>> = {
    ...(answers ? { model: answers } : {}),
    ...(shared ? { reference: shared } : {}),
  };
  const { items, summary } = await runEvalToFiles({
    benchmark,
    benchmarkLabel: options.benchmarkLabel,
    ...(leakage ? { leakage } : {}),
    config,
    provided,
    paths,
    env: options.env,
    ...options.evalDeps,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  await writeFile(inputsPathOf(paths), `${JSON.stringify(inputs, null, 2)}\n`);
  result.evaluation = { path: paths.summary, summary, reused: false };
  if (sharedReference) return sharedReference;
  const answered = new Map(
    items.filter((item) => item.answers.reference !== undefined).map((item) => [item.id, item.answers.reference!]),
  );
  return answered.size === benchmark.length
    ? { answers: answered, source: "generated", label: referenceLabel }
    : undefined;
}

/** Runs the ablation: every row's data, then every evaluation that has a model under test. */
export async function runAblation(options: AblateOptions): Promise<AblationResult> {
  await mkdir(options.dir, { recursive: true });
  const results: AblationRowResult[] = [];
  const fingerprints = new Map<Ablation, string>();
  const rows = TABLE3.filter((entry) => options.rows.includes(entry.ablation));
  // Every row is checked before any is generated: a refusal never comes after money was spent on another row.
  const plans = await Promise.all(rows.map((row) => planRow(options, row.ablation)));
  const refusals = plans.flatMap((plan) => ("refusal" in plan ? [plan.refusal] : []));
  if (refusals.length > 0)
    throw new RunSetupError(`${refusals.join("; ")}; use --force to regenerate, or another --out`);
  for (const [index, row] of rows.entries()) {
    const plan = plans[index] as RowPlan;
    fingerprints.set(row.ablation, plan.fingerprint);
    results.push({
      row: row.ablation,
      label: row.label,
      paperCrr: row.paperCrr,
      data: await generateRow(options, plan),
    });
  }
  if (options.baseline) results.unshift({ row: "baseline", label: "untuned target (no codeclm data)" });

  // The reference answers each benchmark item once; every row is compared with the same answers.
  let sharedReference: ProvidedAnswers | undefined;
  const { evaluation } = options;
  const referenceLabel = evaluation.reference.model;
  for (const result of results) {
    sharedReference = await evaluateRow(options, result, fingerprints, sharedReference);
  }
  return { benchmark: options.benchmarkLabel, reference: referenceLabel, judge: evaluation.judge.model, rows: results };
}

/** The reference answers of an earlier evaluation, when it has one for every benchmark item. */
async function referenceAnswersOf(
  path: string,
  label: string,
  benchmark: readonly Seed[],
): Promise<ProvidedAnswers | undefined> {
  const answers = new Map<string, string>();
  for (const line of (await readFile(path, "utf8")).split("\n")) {
    if (line.trim() === "") continue;
    const item = EvalItemSchema.parse(JSON.parse(line));
    if (item.answers.reference === undefined) return undefined;
    answers.set(item.id, item.answers.reference);
  }
  return benchmark.every((item) => answers.has(item.id)) ? { answers, source: "generated", label } : undefined;
}
