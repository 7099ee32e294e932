/**
 * The paper's ablation (Table 3): generate the four rows at the same size from the same seeds, then evaluate
 * each against a benchmark by the paper's protocol.
 *
 * What is evaluated, honestly: the paper fine-tunes the target on each row's data and compares the tuned
 * target with the strong model. Fine-tuning is outside this tool, so a row is evaluated only when the user
 * names the model fine-tuned on it (`--model-for ROW=SPEC`, `--model-template`) or gives that model's answers
 * (`--answers-for ROW=FILE`). Without one, the row's data is generated and the table says "not evaluated".
 * Generated rows and evaluations already on disk are reused, so the usual flow is: run once to generate,
 * fine-tune on each `DIR/ROW.jsonl`, run again with the tuned models to evaluate.
 */
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { GraphDeps } from "../graphs/runtime.js";
import { existingOutputs, outputPathsFor } from "../io/output.js";
import { runToFiles } from "../io/run.js";
import { type Ablation, TABLE3 } from "../lib/ablation.js";
import type { CodecConfig, RoleSettings } from "../lib/config.js";
import type { Seed } from "../lib/records.js";
import type { RunSummary } from "../lib/summary.js";
import { type EvalConfigInput, resolveEvalConfig } from "./config.js";
import { evalPathsFor, existingEvalOutputs, runEvalToFiles } from "./output.js";
import { EvalItemSchema, type EvalSummary } from "./records.js";
import type { EvalDeps, ProvidedAnswers } from "./run.js";

/** The rows of the table: Table 3's four, plus the untuned target as a baseline when asked. */
export type AblationRowName = Ablation | "baseline";

export interface AblateOptions {
  seeds: Seed[];
  benchmark: Seed[];
  benchmarkLabel: string;
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

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(path, "utf8")) as T;

async function generateRow(options: AblateOptions, ablation: Ablation): Promise<NonNullable<AblationRowResult["data"]>> {
  const paths = outputPathsFor(join(options.dir, `${ablation}.jsonl`));
  if (!options.force && (await exists(paths.summary))) {
    const summary = await readJson<RunSummary>(paths.summary);
    if (summary.settings?.ablation === ablation && summary.requested === options.config.size) {
      options.onProgress?.(`${ablation}: reusing ${paths.kept}`);
      return { path: paths.kept, kept: summary.kept, requested: summary.requested, status: summary.status, reused: true };
    }
    throw new Error(`${paths.summary} is from another run (ablation or size differs); use --force to regenerate`);
  }
  const existing = await existingOutputs(paths);
  if (existing.length > 0 && !options.force) throw new Error(`output already exists: ${existing.join(", ")} (use --force to overwrite)`);
  options.onProgress?.(`${ablation}: generating ${options.config.size} pairs -> ${paths.kept}`);
  const summary = await runToFiles({
    input: { seeds: options.seeds },
    config: { ...options.config, ablation },
    paths,
    graph: { env: options.env, ...options.graph },
    signal: options.signal,
  });
  return { path: paths.kept, kept: summary.kept, requested: summary.requested, status: summary.status, reused: false };
}

/** Runs the ablation: every row's data, then every evaluation that has a model under test. */
export async function runAblation(options: AblateOptions): Promise<AblationResult> {
  await mkdir(options.dir, { recursive: true });
  const results: AblationRowResult[] = [];
  for (const row of TABLE3.filter((entry) => options.rows.includes(entry.ablation))) {
    results.push({ row: row.ablation, label: row.label, paperCrr: row.paperCrr, data: await generateRow(options, row.ablation) });
  }
  if (options.baseline) results.unshift({ row: "baseline", label: "untuned target (no codeclm data)" });

  // The reference answers each benchmark item once; every row is compared with the same answers.
  let sharedReference: ProvidedAnswers | undefined;
  const { evaluation } = options;
  const referenceLabel = evaluation.reference.model;
  for (const result of results) {
    const row = result.row;
    const model = row === "baseline" ? options.config.target : evaluation.models[row];
    const answers = row === "baseline" ? undefined : evaluation.answers[row];
    if (!model && !answers) {
      result.notEvaluated = `fine-tune the target on ${result.data?.path ?? "the row's data"}, then pass --model-for ${row}=SPEC or --answers-for ${row}=FILE`;
      continue;
    }
    const paths = evalPathsFor(join(options.dir, `${row}.eval`));
    const wanted = answers ? answers.label : model!.model;
    if (await exists(paths.summary)) {
      const previous = await readJson<EvalSummary>(paths.summary);
      if (!options.force && previous.models.model === wanted && previous.models.judge === evaluation.judge.model) {
        options.onProgress?.(`${row}: reusing the evaluation in ${paths.summary}`);
        result.evaluation = { path: paths.summary, summary: previous, reused: true };
        sharedReference ??= await referenceAnswersOf(paths.items, referenceLabel, options.benchmark);
        continue;
      }
    }
    const existing = await existingEvalOutputs(paths);
    if (existing.length > 0 && !options.force) {
      throw new Error(`${existing.join(", ")} holds another evaluation (model under test or judge differs); use --force to redo it`);
    }
    options.onProgress?.(`${row}: evaluating ${wanted} against ${referenceLabel} on ${options.benchmark.length} items`);
    const config = resolveEvalConfig({
      ...evaluation.settings,
      model: answers ? null : model,
      reference: sharedReference ? null : evaluation.reference,
      judge: evaluation.judge,
    });
    const provided: Partial<Record<"model" | "reference", ProvidedAnswers>> = {
      ...(answers ? { model: answers } : {}),
      ...(sharedReference ? { reference: sharedReference } : {}),
    };
    const { items, summary } = await runEvalToFiles({
      benchmark: options.benchmark,
      benchmarkLabel: options.benchmarkLabel,
      config,
      provided,
      paths,
      env: options.env,
      ...options.evalDeps,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    result.evaluation = { path: paths.summary, summary, reused: false };
    if (!sharedReference) {
      const answered = new Map(items.filter((item) => item.answers.reference !== undefined).map((item) => [item.id, item.answers.reference!]));
      if (answered.size === options.benchmark.length) sharedReference = { answers: answered, source: "generated", label: referenceLabel };
    }
  }
  return { benchmark: options.benchmarkLabel, reference: referenceLabel, judge: evaluation.judge.model, rows: results };
}

/** The reference answers of an earlier evaluation, when it has one for every benchmark item. */
async function referenceAnswersOf(path: string, label: string, benchmark: readonly Seed[]): Promise<ProvidedAnswers | undefined> {
  const answers = new Map<string, string>();
  for (const line of (await readFile(path, "utf8")).split("\n")) {
    if (line.trim() === "") continue;
    const item = EvalItemSchema.parse(JSON.parse(line));
    if (item.answers.reference === undefined) return undefined;
    answers.set(item.id, item.answers.reference);
  }
  return benchmark.every((item) => answers.has(item.id)) ? { answers, source: "generated", label } : undefined;
}
