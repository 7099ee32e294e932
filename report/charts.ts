/**
 * The report's plots as Vega-Lite specs, built from a run's (or an evaluation's) records. Pure: data in, specs
 * out; `render.ts` turns them into SVG.
 */
import type { TopLevelSpec } from "vega-lite";
import type { EvalSummary } from "../eval/records.js";
import { totalsOf } from "../eval/run.js";
import type { DroppedRecord, IterationRecord, KeptPair, Lineage } from "../lib/records.js";
import { countMetadata } from "../lib/summary.js";
import type { Tailoring } from "../lib/tailoring.js";
import type { EvalReportData, RunReportData } from "./load.js";

export interface Chart {
  id: string;
  title: string;
  caption: string;
  /** Absent when there is nothing to plot; `empty` says why. */
  spec?: TopLevelSpec;
  empty?: string;
}

/** Prices in USD per million tokens, by role (strong/target/judge for a run; model/reference/judge for an eval). */
export type Prices = Record<string, { input: number; output: number }>;

const FONT = "Helvetica, Arial, sans-serif";
const CONFIG = {
  font: FONT,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal" as const, grid: true, gridColor: "#eee" },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: "bottom" as const, labelLimit: 400 },
};
const WIDTH = 460;

const KEPT = "#1f6fb2";
const IMPROVED = "#9fb4c7";
const DROPPED = "#d9822b";
const OUTCOME_COLORS = { win: "#2e7d32", tie: "#9e9e9e", loss: "#c62828" };

const percent = (part: number, whole: number) => (whole > 0 ? `${Math.round((100 * part) / whole)}%` : "0%");

// ---------------------------------------------------------------------------------------------------------------
// Data

/** Kept pairs by the iteration that kept them (the paper's Figure 3). */
export function keptPerIteration(data: RunReportData): Array<{ iteration: number; kept: number; label: string }> {
  const counts: Record<string, number> = {};
  if (data.summary?.keptPerIteration && Object.keys(data.summary.keptPerIteration).length > 0) {
    Object.assign(counts, data.summary.keptPerIteration);
  } else {
    for (const pair of data.kept) counts[String(pair.iteration)] = (counts[String(pair.iteration)] ?? 0) + 1;
  }
  const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
  return Object.entries(counts)
    .map(([iteration, kept]) => ({ iteration: Number(iteration), kept, label: `${kept} (${percent(kept, total)})` }))
    .sort((a, b) => a.iteration - b.iteration);
}

export type PassKind = "kept" | "sent back to Self-Rubrics" | "dropped at the cap";

/** Every judged filtering pass: its gap and what the gap decided. */
export function filteringPasses(data: RunReportData): Array<{ gap: number; pass: PassKind }> {
  const passes: Array<{ gap: number; pass: PassKind }> = [];
  const add = (iterations: readonly IterationRecord[], last: PassKind) => {
    iterations.forEach((record, index) => {
      if (!record.scores) return;
      passes.push({
        gap: record.scores.gap,
        pass: index === iterations.length - 1 ? last : "sent back to Self-Rubrics",
      });
    });
  };
  for (const pair of data.kept) add(pair.lineage.iterations, "kept");
  for (const record of data.dropped) {
    if (!record.lineage) continue;
    const last: PassKind =
      record.reason === "surplus"
        ? "kept"
        : record.reason === "max-iterations"
          ? "dropped at the cap"
          : "sent back to Self-Rubrics";
    add(record.lineage.iterations, last);
  }
  return passes;
}

/** Gaps binned at their natural half-point steps, bars centred on the value (so a bar at θ straddles the θ line). */
export function gapBins(passes: ReadonlyArray<{ gap: number; pass: PassKind }>) {
  const counts = new Map<string, { gap: number; pass: PassKind; count: number }>();
  for (const { gap, pass } of passes) {
    const rounded = Math.round(gap * 2) / 2;
    const key = `${rounded}|${pass}`;
    const entry = counts.get(key) ?? { gap: rounded, pass, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  return [...counts.values()]
    .sort((a, b) => a.gap - b.gap || a.pass.localeCompare(b.pass))
    .map((entry) => ({ ...entry, from: entry.gap - 0.22, to: entry.gap + 0.22 }));
}

export interface CoverageRow {
  name: string;
  source: string;
  share: number;
  count: number;
}

/** Shares of use cases (or skills) in the input metadata and in the kept data, the most frequent first. */
export function coverage(
  data: RunReportData,
  what: "useCases" | "skills",
  top: number,
): { rows: CoverageRow[]; inputLabel?: string } {
  const kept = countMetadata(data.kept.map((pair) => pair.metadata));
  const input = data.summary?.inputMetadata;
  const inputLabel = input ? (input.source === "seeds" ? "seeds" : "your metadata") : undefined;
  const keyOf = (name: string) => name.trim().toLowerCase();
  const totals = new Map<string, { name: string; input: number; kept: number }>();
  const inputTotal = input?.items ?? 0;
  for (const [name, count] of Object.entries(input?.[what] ?? {})) {
    totals.set(keyOf(name), { name, input: count, kept: 0 });
  }
  for (const [name, count] of Object.entries(kept[what])) {
    const entry = totals.get(keyOf(name)) ?? { name, input: 0, kept: 0 };
    entry.kept += count;
    totals.set(keyOf(name), entry);
  }
  const ranked = [...totals.values()]
    .map((entry) => ({
      ...entry,
      weight: (inputTotal ? entry.input / inputTotal : 0) + (kept.items ? entry.kept / kept.items : 0),
    }))
    .sort((a, b) => b.weight - a.weight || a.name.localeCompare(b.name))
    .slice(0, top);
  const rows: CoverageRow[] = [];
  for (const entry of ranked) {
    if (inputLabel)
      rows.push({
        name: entry.name,
        source: inputLabel,
        share: inputTotal ? entry.input / inputTotal : 0,
        count: entry.input,
      });
    rows.push({
      name: entry.name,
      source: "kept data",
      share: kept.items ? entry.kept / kept.items : 0,
      count: entry.kept,
    });
  }
  return { rows, ...(inputLabel ? { inputLabel } : {}) };
}

/** The role whose prices apply to a step's calls. */
export function roleOfStep(step: string): string {
  if (step === "answer-target") return "target";
  if (step === "judge") return "judge";
  if (step === "answer-model") return "model";
  if (step === "answer-reference") return "reference";
  return "strong";
}

export interface StepUsage {
  step: string;
  calls: number;
  failedCalls: number;
  inputTokens: number;
  outputTokens: number;
  /** USD, when the step's role has a price. */
  cost?: number;
}

export function usageByStep(
  byStep: Record<string, { calls: number; failedCalls: number; inputTokens: number; outputTokens: number }> | undefined,
  prices: Prices = {},
): StepUsage[] {
  return Object.entries(byStep ?? {})
    .map(([step, counts]) => {
      const price = prices[roleOfStep(step)];
      const cost = price ? (counts.inputTokens * price.input + counts.outputTokens * price.output) / 1e6 : undefined;
      return { step, ...counts, ...(cost !== undefined ? { cost } : {}) };
    })
    .sort((a, b) => b.inputTokens + b.outputTokens - (a.inputTokens + a.outputTokens));
}

/** Wins, ties and losses overall ("all") and per category, from the items (failures apart). */
export function outcomeSplit(
  data: EvalReportData,
): Array<{ category: string; outcome: "win" | "tie" | "loss"; count: number; order: number }> {
  const totals = totalsOf(data.items);
  const rows: Array<{ category: string; outcome: "win" | "tie" | "loss"; count: number; order: number }> = [];
  const push = (name: string, tally: { wins: number; ties: number; losses: number; total: number }) => {
    const category = `${name} (n=${tally.total})`;
    rows.push({ category, outcome: "win", count: tally.wins, order: 0 });
    rows.push({ category, outcome: "tie", count: tally.ties, order: 1 });
    rows.push({ category, outcome: "loss", count: tally.losses, order: 2 });
  };
  push("all", totals);
  for (const category of Object.keys(totals.byCategory).sort()) push(category, totals.byCategory[category]!);
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------
// Specs

const spec = (body: Record<string, unknown>): TopLevelSpec =>
  ({ config: CONFIG, width: WIDTH, ...body }) as unknown as TopLevelSpec;

export function iterationChart(data: RunReportData): Chart {
  const values = keptPerIteration(data);
  const base = {
    id: "plot-iterations",
    title: "Kept pairs per iteration (Figure 3)",
    caption: "The paper reports that more than 70% of kept data comes from iteration 1, the basic instruction.",
  };
  if (values.length === 0) return { ...base, empty: "No pair was kept." };
  return {
    ...base,
    spec: spec({
      height: 200,
      data: { values },
      encoding: {
        x: {
          field: "iteration",
          type: "ordinal",
          title: "Iteration that kept the pair (1 = basic instruction)",
          axis: { labelAngle: 0 },
        },
        y: { field: "kept", type: "quantitative", title: "Kept pairs" },
      },
      layer: [
        { mark: { type: "bar", color: KEPT } },
        {
          mark: { type: "text", dy: -6, fontSize: 11, color: "#333" },
          encoding: { text: { field: "label", type: "nominal" } },
        },
      ],
    }),
  };
}

export function gapChart(data: RunReportData): Chart {
  const theta = data.summary?.settings?.theta ?? 3;
  const passes = filteringPasses(data);
  const base = {
    id: "plot-gaps",
    title: "Score gaps of every filtering pass",
    caption: `Gap = strong score − target score, each averaged over both answer orders. Beyond ±θ (θ = ${theta}) a pair is kept; within, the instruction goes back to Self-Rubrics until the iteration cap.`,
  };
  if (passes.length === 0) {
    const ablation = data.summary?.settings?.ablation;
    return {
      ...base,
      empty:
        ablation && ablation !== "full"
          ? `No judge scores: the ${ablation} ablation does not filter.`
          : "No filtering pass was judged.",
    };
  }
  const bins = gapBins(passes);
  const extent = Math.max(theta + 1, ...bins.map((bin) => Math.abs(bin.gap) + 0.5));
  const domain: PassKind[] = ["kept", "sent back to Self-Rubrics", "dropped at the cap"];
  return {
    ...base,
    spec: spec({
      height: 220,
      layer: [
        {
          data: { values: bins },
          mark: { type: "bar" },
          encoding: {
            x: {
              field: "from",
              type: "quantitative",
              title: "Score gap (strong − target)",
              scale: { domain: [-extent, extent] },
            },
            x2: { field: "to" },
            y: { aggregate: "sum", field: "count", type: "quantitative", title: "Filtering passes", stack: "zero" },
            color: {
              field: "pass",
              type: "nominal",
              title: "Decision",
              scale: { domain, range: [KEPT, IMPROVED, DROPPED] },
            },
          },
        },
        {
          data: { values: [{ x: -theta }, { x: theta }] },
          mark: { type: "rule", color: "#222", strokeDash: [5, 3], strokeWidth: 1.5 },
          encoding: { x: { field: "x", type: "quantitative" } },
        },
        {
          data: {
            values: [
              { x: -theta, label: `−θ = −${theta}` },
              { x: theta, label: `+θ = ${theta}` },
            ],
          },
          mark: { type: "text", align: "left", dx: 4, baseline: "top", fontSize: 11, color: "#222" },
          encoding: {
            x: { field: "x", type: "quantitative" },
            y: { value: 2 },
            text: { field: "label", type: "nominal" },
          },
        },
      ],
    }),
  };
}

const share = (value: number | null) => (value === null ? "–" : `${Math.round(100 * value)}%`);
const bits = (value: number | null) => (value === null ? "–" : value.toFixed(3));

/** The summary's tailoring measure for one kind of name, in words (appended to the coverage plot's caption). */
export function tailoringNote(tailoring: Tailoring | undefined, what: "useCases" | "skills"): string {
  if (!tailoring) return "";
  const key = what === "useCases" ? "useCase" : "skill";
  const reference = tailoring.reference === "seeds" ? "the seeds" : "your metadata";
  const { pool } = tailoring;
  return (
    ` Tailoring: Jensen–Shannon divergence from ${reference} ${bits(tailoring[`${key}Divergence`])} for the kept data, ` +
    `${bits(pool[`${key}Divergence`])} for the pool (0 = same distribution, 1 = disjoint); the kept data covers ` +
    `${share(tailoring[`${key}Coverage`])} of ${reference}' ${what === "useCases" ? "use cases" : "skills"}, the pool ${share(pool[`${key}Coverage`])}.`
  );
}

export function coverageChart(data: RunReportData, what: "useCases" | "skills"): Chart {
  const top = what === "useCases" ? 12 : 15;
  const { rows, inputLabel } = coverage(data, what, top);
  const noun = what === "useCases" ? "use cases" : "skills";
  const base = {
    id: what === "useCases" ? "plot-coverage-use-cases" : "plot-coverage-skills",
    title: `Metadata coverage: ${noun}`,
    caption: inputLabel
      ? `Share of ${inputLabel === "seeds" ? "seeds" : "your metadata"} and of kept pairs with each of the ${top} most frequent ${noun}.`
      : `Share of kept pairs with each of the ${top} most frequent ${noun} (the summary holds no input metadata).`,
  };
  base.caption += tailoringNote(data.summary?.tailoring, what);
  if (rows.every((row) => row.source === "kept data" && row.count === 0) || rows.length === 0) {
    return { ...base, empty: `No ${noun}: the pairs of this run carry no metadata.` };
  }
  const sources = inputLabel ? [inputLabel, "kept data"] : ["kept data"];
  return {
    ...base,
    spec: spec({
      data: { values: rows },
      height: { step: inputLabel ? 22 : 14 },
      mark: { type: "bar" },
      encoding: {
        y: {
          field: "name",
          type: "nominal",
          title: null,
          sort: rows.filter((row) => row.source === sources[0]).map((row) => row.name),
        },
        yOffset: { field: "source", type: "nominal", sort: sources },
        x: { field: "share", type: "quantitative", title: "Share of items", axis: { format: "%", tickCount: 5 } },
        color: {
          field: "source",
          type: "nominal",
          title: null,
          scale: { domain: sources, range: inputLabel ? ["#8e6bbf", KEPT] : [KEPT] },
        },
      },
    }),
  };
}

export function usageChart(byStep: StepUsage[]): Chart {
  const base = {
    id: "plot-usage",
    title: "Calls and tokens by step",
    caption: "Tokens as reported by the providers; the table below has calls, failures and cost.",
  };
  if (byStep.length === 0) return { ...base, empty: "No model call was recorded." };
  const values = byStep.flatMap((step) => [
    { step: step.step, kind: "input tokens", tokens: step.inputTokens, calls: step.calls },
    { step: step.step, kind: "output tokens", tokens: step.outputTokens, calls: step.calls },
  ]);
  const order = byStep.map((step) => step.step);
  return {
    ...base,
    spec: {
      config: CONFIG,
      data: { values },
      hconcat: [
        {
          width: 260,
          height: { step: 20 },
          mark: { type: "bar" },
          encoding: {
            y: { field: "step", type: "nominal", title: null, sort: order },
            x: { field: "tokens", type: "quantitative", title: "Tokens", stack: "zero" },
            color: {
              field: "kind",
              type: "nominal",
              title: null,
              scale: { domain: ["input tokens", "output tokens"], range: ["#7aa6d6", KEPT] },
            },
          },
        },
        {
          width: 160,
          height: { step: 20 },
          transform: [{ filter: "datum.kind === 'input tokens'" }],
          mark: { type: "bar", color: "#6d8f4e" },
          encoding: {
            y: { field: "step", type: "nominal", title: null, sort: order, axis: null },
            x: { field: "calls", type: "quantitative", title: "Calls" },
          },
        },
      ],
    } as unknown as TopLevelSpec,
  };
}

export function costChart(byStep: StepUsage[]): Chart | undefined {
  const priced = byStep.filter((step) => step.cost !== undefined);
  if (priced.length === 0) return undefined;
  return {
    id: "plot-cost",
    title: "Cost by step (USD)",
    caption: "From the prices given with --price, per million input and output tokens.",
    spec: spec({
      width: 300,
      height: { step: 20 },
      data: { values: priced.map((step) => ({ step: step.step, cost: step.cost })) },
      mark: { type: "bar", color: "#b5651d" },
      encoding: {
        y: { field: "step", type: "nominal", title: null, sort: "-x" },
        x: { field: "cost", type: "quantitative", title: "USD", axis: { format: "$.2f" } },
      },
    }),
  };
}

export function outcomeChart(data: EvalReportData): Chart {
  const values = outcomeSplit(data);
  const summary: EvalSummary | undefined = data.summary;
  const base = {
    id: "plot-outcomes",
    title: "Wins, ties and losses of the model under test",
    caption:
      `Win: ${summary?.models.model ?? "the model under test"} scored higher than ${summary?.models.reference ?? "the reference"} in both answer orders; ` +
      "loss: the reference did; tie: anything else. CRR = (wins + ties) / judged. Judge and answer failures are left out.",
  };
  if (values.every((row) => row.count === 0)) return { ...base, empty: "No item was judged." };
  const categories = [...new Set(values.map((row) => row.category))];
  return {
    ...base,
    spec: spec({
      data: { values },
      height: { step: 22 },
      mark: { type: "bar" },
      encoding: {
        y: { field: "category", type: "nominal", title: null, sort: categories },
        x: {
          aggregate: "sum",
          field: "count",
          type: "quantitative",
          stack: "normalize",
          title: "Share of judged items",
          axis: { format: "%" },
        },
        color: {
          field: "outcome",
          type: "nominal",
          title: null,
          scale: {
            domain: ["win", "tie", "loss"],
            range: [OUTCOME_COLORS.win, OUTCOME_COLORS.tie, OUTCOME_COLORS.loss],
          },
        },
        order: { field: "order", type: "quantitative" },
      },
    }),
  };
}

/**
 * Prices as given, plus the judge at the strong model's price when the run's judge is the strong model and
 * has no price of its own (the paper's setting).
 */
export function effectivePrices(prices: Prices, models: { strong?: string; judge?: string } | undefined): Prices {
  if (prices.judge || !prices.strong || !models?.judge || models.judge !== models.strong) return prices;
  return { ...prices, judge: prices.strong };
}

/** Every chart of a run report, in page order. */
export function runCharts(data: RunReportData, prices: Prices = {}): Chart[] {
  const usage = usageByStep(data.summary?.calls.byStep, effectivePrices(prices, data.summary?.models));
  const cost = costChart(usage);
  return [
    iterationChart(data),
    gapChart(data),
    coverageChart(data, "useCases"),
    coverageChart(data, "skills"),
    usageChart(usage),
    ...(cost ? [cost] : []),
  ];
}

export function evalCharts(data: EvalReportData, prices: Prices = {}): Chart[] {
  const usage = usageByStep(data.summary?.calls.byStep, prices);
  const cost = costChart(usage);
  return [outcomeChart(data), usageChart(usage), ...(cost ? [cost] : [])];
}

export type { DroppedRecord, KeptPair, Lineage };
