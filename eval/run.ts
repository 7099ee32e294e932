/**
 * Evaluation by the paper's protocol (§5.1–5.3): every benchmark instruction is answered by the model under
 * test and by the reference; a judge scores the two answers twice, positions swapped; the model under test
 * wins an item only if it scores higher both times, loses only if the reference does both times, and ties
 * otherwise. CRR = (wins + ties) / total. A plain async module: no graph state is needed for a flat fan-out.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseMessageLike } from "@langchain/core/messages";
import {
  type Side,
  combineOrders,
  orderVerdict,
  ordersAgree,
  parseJudgement,
  preferredPosition,
  scoresBySide,
  tallyOutcomes,
} from "../lib/crr.js";
import type { ModelRole, PipelineStep, Seed } from "../lib/records.js";
import { errorMessage } from "../lib/redact.js";
import { UsageMeter, totalCounts } from "../lib/usage.js";
import { type CallContext, ModelCallError, callText } from "../models/call.js";
import { batchFetch } from "../models/batch/scope.js";
import { type Env, ModelFactory } from "../models/factory.js";
import { buildServices } from "../nodes/runtime.js";
import { EVAL_JUDGE_PROMPT, EVAL_JUDGE_SYSTEM, evalJudgeValues } from "../prompts/eval-judge.js";
import { fillTemplate } from "../prompts/template.js";
import { type EvalConfig, callConfigFor } from "./config.js";
import type { LeakageSummary } from "./leakage.js";
import { type EvalItem, type EvalSummary, type Judgement, WINS_MEANING } from "./records.js";

/** Answers that are not asked of a model: read from a file, or shared from an earlier evaluation. */
export interface ProvidedAnswers {
  answers: Map<string, string>;
  source: "file" | "generated";
  /** Shown in the summary instead of a model spec, e.g. the file's path. */
  label: string;
}

export interface EvalDeps {
  /** Chat models that replace a side's spec (tests, custom clients). */
  models?: Partial<Record<Side | "judge", BaseChatModel>>;
  env?: Env;
  maxRetries?: number;
  /** Longest wait for one model call before it is retried (default: codeclm's 120 s). */
  timeoutMs?: number;
}

export type EvalEvent = { type: "item"; item: EvalItem; done: number; total: number };

export interface EvaluateOptions extends EvalDeps {
  benchmark: readonly Seed[];
  /** Named in the summary. */
  benchmarkLabel?: string;
  /** Recorded in the summary: the data's seeds left out of `benchmark`, and its overlap with the data. */
  leakage?: LeakageSummary;
  config: EvalConfig;
  provided?: Partial<Record<Side, ProvidedAnswers>>;
  signal?: AbortSignal;
  onEvent?: (event: EvalEvent) => void;
}

export interface EvalResult {
  items: EvalItem[];
  summary: EvalSummary;
}

/** Each side's slot in the factory (see `callConfigFor`). */
const SLOT: Record<Side | "judge", ModelRole> = { model: "target", reference: "strong", judge: "judge" };
const ANSWER_STEP: Record<Side, PipelineStep> = { model: "answer-target", reference: "answer-strong" };
const ROLE_NAME: Record<string, string> = { target: "model", strong: "reference", judge: "judge" };
const STEP_NAME: Record<string, string> = {
  "answer-target": "answer-model",
  "answer-strong": "answer-reference",
  judge: "judge",
};

const rename = <T>(record: Record<string, T>, names: Record<string, string>): Record<string, T> =>
  Object.fromEntries(Object.entries(record).map(([key, value]) => [names[key] ?? key, value]));

/** With `--batch`: calls and cost by transport, and the batches (the summary's `batch`). */
function batchFigures(ctx: CallContext): Pick<EvalSummary, "batch"> {
  const ledger = ctx.services.ledger.snapshot();
  if (!ledger.batches || !ledger.byTransport) return {};
  return { batch: { byTransport: ledger.byTransport, batches: ledger.batches } };
}

/** The factory for an evaluation; sides answered from files are neither built nor validated. */
export function evalFactory(config: EvalConfig, deps: EvalDeps = {}): ModelFactory {
  const call = callConfigFor(config);
  const overrides: Partial<Record<ModelRole, BaseChatModel>> = {};
  for (const [side, model] of Object.entries(deps.models ?? {}))
    if (model) overrides[SLOT[side as Side | "judge"]] = model;
  return new ModelFactory(
    { strong: call.strong, target: call.target, judge: call.judge ?? call.strong },
    { overrides, env: deps.env, maxRetries: deps.maxRetries, ...(config.batch ? { fetch: batchFetch } : {}) },
  );
}

/** The roles an evaluation calls: the judge, and each side not answered from a file. */
export function evalRoles(config: EvalConfig, provided: EvaluateOptions["provided"] = {}): ModelRole[] {
  const roles: ModelRole[] = ["judge"];
  if (!provided.model) roles.push("target");
  if (!provided.reference) roles.push("strong");
  return roles;
}

async function judgeOrder(
  ctx: CallContext,
  config: EvalConfig,
  question: string,
  answers: Record<Side, string>,
  shownFirst: Side,
): Promise<Judgement> {
  const shownSecond: Side = shownFirst === "model" ? "reference" : "model";
  const template = config.judgePrompt && config.judgePrompt.trim() !== "" ? config.judgePrompt : EVAL_JUDGE_PROMPT;
  const messages: BaseMessageLike[] = [
    ["system", EVAL_JUDGE_SYSTEM],
    ["human", fillTemplate(template, evalJudgeValues(question, answers[shownFirst], answers[shownSecond]))],
  ];
  const attempts = config.judgeRetries + 1;
  let raw = "";
  let problem = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      raw = await callText(ctx, { role: "judge", step: "judge", temperature: config.judgeTemperature, messages });
    } catch (error) {
      if (!(error instanceof ModelCallError)) throw error;
      return { shownFirst, raw, attempts: attempt, error: error.message };
    }
    const parsed = parseJudgement(raw);
    if (parsed.ok) {
      const scores = scoresBySide(parsed.first, parsed.second, shownFirst);
      return { shownFirst, raw, attempts: attempt, scores, verdict: orderVerdict(scores) };
    }
    problem = parsed.error;
  }
  return { shownFirst, raw, attempts, error: `malformed judgement after ${attempts} attempt(s): ${problem}` };
}

async function evaluateItem(
  ctx: CallContext,
  config: EvalConfig,
  item: Seed,
  provided: Partial<Record<Side, ProvidedAnswers>>,
): Promise<EvalItem> {
  const answerSources = {
    model: provided.model?.source ?? "generated",
    reference: provided.reference?.source ?? "generated",
  } as const;
  const base = {
    id: item.id,
    ...(item.category !== undefined ? { category: item.category } : {}),
    instruction: item.instruction,
    answerSources,
  };
  const answer = (side: Side): Promise<string> => {
    const given = provided[side]?.answers;
    if (given?.has(item.id)) return Promise.resolve(given.get(item.id)!);
    return callText(ctx, {
      role: SLOT[side],
      step: ANSWER_STEP[side],
      temperature: config.answerTemperature,
      messages: [["human", item.instruction]],
    });
  };
  const [model, reference] = await Promise.allSettled([answer("model"), answer("reference")]);
  if (model.status === "rejected" || reference.status === "rejected") {
    const errors: string[] = [];
    for (const [side, settled] of [
      ["model", model],
      ["reference", reference],
    ] as const) {
      if (settled.status === "fulfilled") continue;
      if (!(settled.reason instanceof ModelCallError)) throw settled.reason;
      const error = settled.reason;
      errors.push(error.message.replace(`${error.step} (${error.role} model)`, `the ${side}'s answer`));
    }
    return {
      ...base,
      answers: {
        ...(model.status === "fulfilled" ? { model: model.value } : {}),
        ...(reference.status === "fulfilled" ? { reference: reference.value } : {}),
      },
      judgements: {},
      outcome: "answer-failure",
      error: errors.join("; "),
    };
  }
  const answers = { model: model.value, reference: reference.value };
  const [modelFirst, referenceFirst] = await Promise.all([
    judgeOrder(ctx, config, item.instruction, answers, "model"),
    judgeOrder(ctx, config, item.instruction, answers, "reference"),
  ]);
  if (!modelFirst.verdict || !referenceFirst.verdict) {
    const errors = [modelFirst, referenceFirst]
      .filter((judgement) => judgement.error)
      .map((judgement) => `${judgement.shownFirst} first: ${judgement.error}`);
    return {
      ...base,
      answers,
      judgements: { modelFirst, referenceFirst },
      outcome: "judge-failure",
      error: errors.join("; "),
    };
  }
  return {
    ...base,
    answers,
    judgements: { modelFirst, referenceFirst },
    outcome: combineOrders(modelFirst.verdict, referenceFirst.verdict),
    consistent: ordersAgree(modelFirst.verdict, referenceFirst.verdict),
  };
}

/** Which position each of an item's parsed judgements preferred (position-bias count). */
function preferredPositions(item: EvalItem): Array<"first" | "second" | "equal"> {
  const out: Array<"first" | "second" | "equal"> = [];
  for (const judgement of [item.judgements.modelFirst, item.judgements.referenceFirst]) {
    if (!judgement?.scores) continue;
    const first = judgement.shownFirst === "model" ? judgement.scores.model : judgement.scores.reference;
    const second = judgement.shownFirst === "model" ? judgement.scores.reference : judgement.scores.model;
    out.push(preferredPosition(first, second));
  }
  return out;
}

/** Totals recomputed from per-item records alone: what the summary says, checkable from `eval.jsonl`. */
export function totalsOf(items: readonly EvalItem[]) {
  return tallyOutcomes(
    items.map((item) => ({
      outcome: item.outcome,
      ...(item.category !== undefined ? { category: item.category } : {}),
      ...(item.consistent !== undefined ? { consistent: item.consistent } : {}),
      preferredPositions: preferredPositions(item),
    })),
  );
}

/** Answer and judge every benchmark item; items come back in benchmark order. */
export async function evaluate(options: EvaluateOptions): Promise<EvalResult> {
  const { config, benchmark } = options;
  const provided = options.provided ?? {};
  if (!config.model && !provided.model)
    throw new Error("no model under test: give its model spec or a file of its answers");
  if (!config.reference && !provided.reference)
    throw new Error("no reference: give its model spec or a file of its answers");
  for (const side of ["model", "reference"] as const) {
    const given = provided[side];
    const missing = given && !config[side] ? benchmark.filter((item) => !given.answers.has(item.id)) : [];
    if (missing.length > 0)
      throw new Error(
        `no ${side} answer for ${missing.length} benchmark item(s), e.g. "${missing[0]!.id}", and no ${side} model to ask`,
      );
  }
  const startedAt = Date.now();
  const factory = evalFactory(config, options);
  factory.validate(evalRoles(config, provided));
  const meter = new UsageMeter();
  const callConfig = callConfigFor(config);
  if (options.timeoutMs !== undefined) callConfig.timeoutSeconds = options.timeoutMs / 1000;
  const ctx: CallContext = {
    factory,
    // The same call machinery as generate: concurrency limit, transport retries with backoff, budgets.
    services: buildServices(callConfig, factory),
    config: callConfig,
    meter,
    ...(options.signal ? { runnable: { signal: options.signal } } : {}),
  };
  let done = 0;
  const items = await Promise.all(
    benchmark.map(async (item) => {
      let result: EvalItem;
      try {
        result = await evaluateItem(ctx, config, item, provided);
      } catch (error) {
        if (options.signal?.aborted) throw error;
        throw new Error(`evaluating item "${item.id}": ${errorMessage(error)}`);
      }
      done++;
      options.onEvent?.({ type: "item", item: result, done, total: benchmark.length });
      return result;
    }),
  );
  const finishedAt = Date.now();
  const totals = totalsOf(items);
  const describe = (side: Side) => (provided[side] ? provided[side].label : factory.describe(SLOT[side]));
  const { model: _model, reference: _reference, judge: _judge, judgePrompt, ...settings } = config;
  const summary: EvalSummary = {
    kind: "eval",
    ...totals,
    winsMeaning: WINS_MEANING,
    status: totals.judgeFailures + totals.answerFailures === 0 ? "complete" : "incomplete",
    benchmark: options.benchmarkLabel ?? "",
    ...(options.leakage ? { leakage: options.leakage } : {}),
    models: { model: describe("model"), reference: describe("reference"), judge: factory.describe("judge") },
    answers: {
      model: provided.model ? `${provided.model.source}: ${provided.model.label}` : "generated",
      reference: provided.reference ? `${provided.reference.source}: ${provided.reference.label}` : "generated",
    },
    settings: { ...settings, customJudgePrompt: Boolean(judgePrompt && judgePrompt.trim() !== "") },
    calls: {
      byRole: rename(meter.totals.byRole, ROLE_NAME),
      byStep: rename(meter.totals.byStep, STEP_NAME),
      total: totalCounts(meter.totals),
    },
    ...batchFigures(ctx),
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    wallTimeMs: finishedAt - startedAt,
  };
  return { items, summary };
}
