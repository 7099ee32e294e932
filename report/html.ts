/**
 * The report page: one self-contained HTML file (inline CSS, inline SVG plots, no script, no external
 * reference; a Content-Security-Policy forbids loading anything). Every text that comes from a run is
 * escaped. Records are browsable with `<details>`, so the page works with JavaScript off.
 */
import type { EvalItem, Judgement } from "../eval/records.js";
import { percent } from "../lib/crr.js";
import type { DroppedRecord, IterationRecord, KeptPair, Lineage } from "../lib/records.js";
import type { Tailoring, TailoringMeasure } from "../lib/tailoring.js";
import type { StepUsage } from "./charts.js";
import type { EvalReportData, RunReportData } from "./load.js";

export interface RenderedChart {
  id: string;
  title: string;
  caption: string;
  svg?: string;
  empty?: string;
}

export interface PageOptions {
  /** Most records listed per table; the rest are counted, and are in the JSONL. */
  maxRows: number;
  generatedAt: Date;
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const esc = (value: unknown) => escapeHtml(String(value ?? ""));
const preview = (text: string, length = 140) => {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
};
const pre = (text: string | undefined) =>
  text === undefined ? '<p class="muted">(none)</p>' : `<pre>${esc(text)}</pre>`;
const num = (value: number) => value.toLocaleString("en-US");
const signed = (value: number) => (value > 0 ? `+${value}` : String(value));

const STYLE = `
:root { color-scheme: light; --fg: #1d2329; --muted: #5f6b76; --line: #dde3e8; --accent: #1f6fb2; --bg-soft: #f5f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 Helvetica, Arial, sans-serif; color: var(--fg); background: #fff; }
header, main { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; padding-bottom: 8px; border-bottom: 1px solid var(--line); }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 0 0 6px; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
.muted, figcaption { color: var(--muted); font-size: 13px; }
.stats { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; margin: 16px 0; }
.stat { background: var(--bg-soft); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.stat b { display: block; font-size: 20px; }
.stat span { color: var(--muted); font-size: 12px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0 0; font-size: 13px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 20px; }
figure { margin: 0; padding: 14px; border: 1px solid var(--line); border-radius: 8px; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
figure .empty { padding: 24px 0; color: var(--muted); font-style: italic; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
details.record { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; background: #fff; }
details.record > summary { cursor: pointer; padding: 6px 10px; list-style-position: inside; }
details.record[open] > summary { background: var(--bg-soft); border-bottom: 1px solid var(--line); }
details.record .body { padding: 8px 14px 12px; }
details.group > summary { cursor: pointer; font-weight: bold; margin: 10px 0; }
.badge { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 9px; background: #e8eef4; color: #234; margin-right: 4px; white-space: nowrap; }
.badge.win, .badge.kept { background: #e3f1e4; color: #1b5e20; }
.badge.loss, .badge.failure { background: #fbe4e4; color: #8e1b1b; }
.badge.tie { background: #eee; color: #444; }
.badge.dropped { background: #fdf0e1; color: #7a4307; }
code { font-size: 12px; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--bg-soft); border: 1px solid var(--line); border-radius: 4px; padding: 8px; margin: 4px 0 10px; font: 13px/1.45 ui-monospace, Menlo, Consolas, monospace; max-height: 420px; overflow: auto; }
.label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; margin-top: 8px; }
footer { max-width: 1180px; margin: 40px auto 24px; padding: 0 24px; color: var(--muted); font-size: 12px; }
`;

function page(title: string, body: string, options: PageOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="codeclm report">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
<footer>Written by <code>codeclm report</code> on ${esc(options.generatedAt.toISOString())}. Self-contained: no script, nothing loaded from elsewhere.</footer>
</body>
</html>
`;
}

function stats(items: Array<[string, string]>): string {
  return `<div class="stats">${items.map(([value, label]) => `<div class="stat"><b>${esc(value)}</b><span>${esc(label)}</span></div>`).join("")}</div>`;
}

function facts(items: Array<[string, string | undefined]>): string {
  const rows = items.filter(([, value]) => value !== undefined && value !== "");
  return `<dl class="facts">${rows.map(([key, value]) => `<dt>${esc(key)}</dt><dd>${esc(value)}</dd>`).join("")}</dl>`;
}

function figures(charts: readonly RenderedChart[]): string {
  return `<div class="plots">${charts
    .map(
      (chart) =>
        `<figure id="${esc(chart.id)}" class="plot${chart.svg ? "" : " no-data"}"><h3>${esc(chart.title)}</h3>${
          chart.svg ?? `<p class="empty">${esc(chart.empty ?? "Nothing to plot.")}</p>`
        }<figcaption>${esc(chart.caption)}</figcaption></figure>`,
    )
    .join("\n")}</div>`;
}

/** The summary's tailoring measure beside the coverage plots (the paper's Figure 4 relates it to CRR). */
function tailoringTable(tailoring: Tailoring | undefined): string {
  if (!tailoring) return "";
  const fixed = (value: number | null) => (value === null ? "–" : value.toFixed(3));
  const row = (label: string, measure: TailoringMeasure) =>
    `<tr><td>${esc(label)}</td><td class="n">${num(measure.items)}</td><td class="n">${fixed(measure.useCaseDivergence)}</td><td class="n">${fixed(measure.skillDivergence)}</td><td class="n">${percent(measure.useCaseCoverage)}</td><td class="n">${percent(measure.skillCoverage)}</td></tr>`;
  const reference = tailoring.reference === "seeds" ? "the seeds' encoded metadata" : "your metadata";
  return `<table class="usage" id="tailoring"><caption>Tailoring: how the metadata match ${esc(reference)} (Jensen–Shannon divergence, base 2: 0 = same distribution, 1 = disjoint; coverage: share of its use cases and skills present)</caption>
<tr><th></th><th class="n">items</th><th class="n">use-case divergence</th><th class="n">skill divergence</th><th class="n">use cases covered</th><th class="n">skills covered</th></tr>${row("kept data", tailoring)}${row("pool", tailoring.pool)}</table>`;
}

function usageTable(usage: readonly StepUsage[]): string {
  if (usage.length === 0) return "";
  const priced = usage.some((step) => step.cost !== undefined);
  const head = `<tr><th>step</th><th class="n">calls</th><th class="n">failed</th><th class="n">input tokens</th><th class="n">output tokens</th>${priced ? '<th class="n">cost (USD)</th>' : ""}</tr>`;
  const rows = usage
    .map(
      (step) =>
        `<tr><td>${esc(step.step)}</td><td class="n">${num(step.calls)}</td><td class="n">${num(step.failedCalls)}</td><td class="n">${num(step.inputTokens)}</td><td class="n">${num(step.outputTokens)}</td>${
          priced ? `<td class="n">${step.cost !== undefined ? step.cost.toFixed(4) : "–"}</td>` : ""
        }</tr>`,
    )
    .join("");
  const note = priced
    ? ""
    : '<p class="muted">No prices given: pass <code>--price ROLE=INPUT,OUTPUT</code> (USD per million tokens) for costs.</p>';
  return `<table class="usage">${head}${rows}</table>${note}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Run records

function passTable(iterations: readonly IterationRecord[]): string {
  if (iterations.length === 0) return '<p class="muted">No filtering pass.</p>';
  const rows = iterations
    .map((pass) => {
      const scores = pass.scores
        ? `<td class="n">${pass.scores.strong}</td><td class="n">${pass.scores.target}</td><td class="n">${signed(pass.scores.gap)}</td>`
        : '<td class="n">–</td><td class="n">–</td><td class="n">–</td>';
      const raw = pass.rawScores
        ? `strong first ${pass.rawScores.strongFirst.strong}/${pass.rawScores.strongFirst.target}, target first ${pass.rawScores.targetFirst.strong}/${pass.rawScores.targetFirst.target}`
        : "not judged";
      return `<tr><td class="n">${pass.iteration}</td><td>${esc(pass.action ?? "(basic instruction)")}</td>${scores}<td>${esc(raw)}</td></tr>
<tr><td></td><td colspan="5"><details><summary>instruction and answers</summary><div class="label">instruction</div>${pre(pass.instruction)}<div class="label">strong answer</div>${pre(pass.answers.strong)}<div class="label">target answer</div>${pre(pass.answers.target)}</details></td></tr>`;
    })
    .join("\n");
  return `<table class="passes"><tr><th class="n">iteration</th><th>action applied</th><th class="n">strong</th><th class="n">target</th><th class="n">gap</th><th>raw scores (strong/target)</th></tr>${rows}</table>`;
}

function lineageBlock(lineage: Lineage | undefined): string {
  if (!lineage) return "";
  return `<div class="label">lineage</div>${facts([
    ["metadata", `${lineage.metadataId} (${lineage.metadataOrigin})`],
    ["from seeds", lineage.seedIds.join(", ") || "–"],
    [
      "actions, in order",
      lineage.actions.length > 0 ? lineage.actions.map((action, i) => `${i + 1}. ${action}`).join("  ") : "none",
    ],
  ])}<div class="label">basic instruction</div>${pre(lineage.basicInstruction)}<div class="label">filtering passes</div>${passTable(lineage.iterations)}`;
}

const metadataText = (metadata: { useCase: string; skills: string[] } | undefined) =>
  metadata && metadata.useCase !== "" ? `${metadata.useCase} · ${metadata.skills.join(", ")}` : "no metadata";

function keptRecord(pair: KeptPair): string {
  const gap = pair.scores ? `gap ${signed(pair.scores.gap)}` : "not judged";
  return `<details class="record kept" id="kept-${esc(pair.id)}"><summary><span class="badge kept">kept</span><span class="badge">iteration ${pair.iteration}</span><span class="badge">${esc(gap)}</span><span class="badge">${esc(pair.source)} answer</span> <code>${esc(pair.id)}</code> ${esc(preview(pair.instruction))}</summary><div class="body">
${facts([
  ["metadata", metadataText(pair.metadata)],
  ["run", pair.runId],
])}
<div class="label">instruction</div>${pre(pair.instruction)}<div class="label">response (${esc(pair.source)})</div>${pre(pair.response)}
${lineageBlock(pair.lineage)}</div></details>`;
}

function droppedRecord(record: DroppedRecord): string {
  const text = record.instruction ?? record.seed ?? metadataText(record.metadata);
  return `<details class="record dropped" id="dropped-${esc(record.kind)}-${esc(record.id)}"><summary><span class="badge ${record.reason === "failure" ? "failure" : "dropped"}">${esc(record.reason)}</span><span class="badge">${esc(record.kind)}</span>${
    record.step ? `<span class="badge">${esc(record.step)}</span>` : ""
  } <code>${esc(record.id)}</code> ${esc(preview(text))}</summary><div class="body">
${facts([
  ["reason", record.reason],
  ["step", record.step],
  ["error", record.error],
  ["metadata", record.metadata ? metadataText(record.metadata) : undefined],
])}
${record.instruction ? `<div class="label">instruction</div>${pre(record.instruction)}` : ""}${record.seed ? `<div class="label">seed</div>${pre(record.seed)}` : ""}
${lineageBlock(record.lineage)}</div></details>`;
}

function recordGroup(
  title: string,
  id: string,
  records: readonly string[],
  total: number,
  options: PageOptions,
  open: boolean,
): string {
  const more =
    total > records.length
      ? `<p class="muted">${num(total - records.length)} more not listed (--max-rows ${options.maxRows}); they are in the JSONL.</p>`
      : "";
  return `<details class="group" id="${esc(id)}"${open ? " open" : ""}><summary>${esc(title)} (${num(total)})</summary>${records.join("\n")}${more}</details>`;
}

export function runPage(
  data: RunReportData,
  charts: readonly RenderedChart[],
  usage: readonly StepUsage[],
  options: PageOptions,
): string {
  const summary = data.summary;
  const ablation = summary?.settings?.ablation;
  const dropsByReason: Record<string, number> = {};
  for (const record of data.dropped) dropsByReason[record.reason] = (dropsByReason[record.reason] ?? 0) + 1;
  const iteration1 = data.kept.filter((pair) => pair.iteration === 1).length;
  const header = `<header><h1>codeclm run: ${esc(data.source)}</h1>
<nav><a href="#plots">plots</a><a href="#usage">calls and tokens</a><a href="#kept">kept pairs</a><a href="#dropped">dropped</a></nav>
${stats([
  [`${num(data.kept.length)}${summary ? ` / ${num(summary.requested)}` : ""}`, "pairs kept"],
  [summary ? summary.status : "no summary", "status"],
  [percent(data.kept.length > 0 ? iteration1 / data.kept.length : null), "kept at iteration 1"],
  [num(data.kept.filter((pair) => pair.source === "target").length), "target answers kept (gap < −θ)"],
  [num(data.dropped.length), "dropped records"],
  [summary ? `${(summary.wallTimeMs / 1000).toFixed(1)} s` : "–", "wall time"],
])}
${facts([
  ["stop reason", summary?.stopReason],
  [
    "method",
    ablation && ablation !== "full"
      ? `ablation: ${ablation} (Table 3 row; no Contrastive Filtering)`
      : "CodecLM (full)",
  ],
  [
    "models",
    summary
      ? `strong ${summary.models.strong}; target ${summary.models.target}; judge ${summary.models.judge}`
      : undefined,
  ],
  [
    "θ, iterations",
    summary ? `θ = ${summary.settings.theta}; at most ${summary.settings.maxIterations} iterations` : undefined,
  ],
  [
    "drops by reason",
    Object.entries(dropsByReason)
      .map(([reason, count]) => `${reason} ${count}`)
      .join(", ") || "none",
  ],
  ["run id", summary?.runId],
])}</header>`;
  const kept = data.kept.slice(0, options.maxRows).map(keptRecord);
  const dropped = data.dropped.slice(0, options.maxRows).map(droppedRecord);
  const body = `${header}<main>
<h2 id="plots">Plots</h2>${figures(charts)}
${tailoringTable(summary?.tailoring)}
<h2 id="usage">Calls and tokens by step</h2>${usageTable(usage)}
<h2>Examples</h2><p class="muted">Open a row for the pair, its metadata and its lineage: the basic instruction, each action applied and each filtering pass with its scores.</p>
${recordGroup("Kept pairs", "kept", kept, data.kept.length, options, true)}
${recordGroup("Dropped records", "dropped", dropped, data.dropped.length, options, false)}
</main>`;
  return page(`codeclm report: ${data.source}`, body, options);
}

// ---------------------------------------------------------------------------------------------------------------
// Eval records

function judgementBlock(label: string, judgement: Judgement | undefined): string {
  if (!judgement) return `<div class="label">${esc(label)}</div><p class="muted">not judged</p>`;
  const scores = judgement.scores
    ? `model ${judgement.scores.model}, reference ${judgement.scores.reference} → ${judgement.verdict}`
    : `no scores: ${judgement.error ?? ""}`;
  return `<div class="label">${esc(label)}: ${esc(scores)} (${judgement.attempts} call${judgement.attempts === 1 ? "" : "s"})</div>${pre(judgement.raw)}`;
}

function evalRecord(item: EvalItem): string {
  const outcomeClass =
    item.outcome === "win" || item.outcome === "tie" || item.outcome === "loss" ? item.outcome : "failure";
  const orders = [item.judgements.modelFirst, item.judgements.referenceFirst]
    .map((judgement) => (judgement?.scores ? `${judgement.scores.model}–${judgement.scores.reference}` : "–"))
    .join(" / ");
  return `<details class="record eval" id="item-${esc(item.id)}"><summary><span class="badge ${outcomeClass}">${esc(item.outcome)}</span>${
    item.category ? `<span class="badge">${esc(item.category)}</span>` : ""
  }<span class="badge">model–reference ${esc(orders)}</span>${item.consistent === false ? '<span class="badge">orders disagree</span>' : ""} <code>${esc(item.id)}</code> ${esc(preview(item.instruction))}</summary><div class="body">
${item.error ? facts([["error", item.error]]) : ""}
<div class="label">instruction</div>${pre(item.instruction)}
<div class="label">model under test (${esc(item.answerSources.model)})</div>${pre(item.answers.model)}
<div class="label">reference (${esc(item.answerSources.reference)})</div>${pre(item.answers.reference)}
${judgementBlock("judgement, model's answer shown first", item.judgements.modelFirst)}
${judgementBlock("judgement, reference's answer shown first", item.judgements.referenceFirst)}
</div></details>`;
}

export function evalPage(
  data: EvalReportData,
  totals: {
    wins: number;
    ties: number;
    losses: number;
    crr: number | null;
    judgeFailures: number;
    answerFailures: number;
    positionConsistency: { rate: number | null; consistent: number; judged: number };
  },
  charts: readonly RenderedChart[],
  usage: readonly StepUsage[],
  options: PageOptions,
): string {
  const summary = data.summary;
  const header = `<header><h1>codeclm evaluation: ${esc(data.source)}</h1>
<nav><a href="#plots">plots</a><a href="#usage">calls and tokens</a><a href="#items">items</a></nav>
${stats([
  [percent(totals.crr), "CRR = (wins + ties) / judged"],
  [num(totals.wins), "wins"],
  [num(totals.ties), "ties"],
  [num(totals.losses), "losses"],
  [num(totals.judgeFailures + totals.answerFailures), "failures (left out)"],
  [percent(totals.positionConsistency.rate), "judge position consistency"],
])}
${facts([
  ["wins mean", summary?.winsMeaning ?? "the model under test scored higher than the reference in both answer orders"],
  ["model under test", summary?.models.model],
  ["reference", summary?.models.reference],
  ["judge", summary?.models.judge],
  ["benchmark", summary?.benchmark],
  [
    "position consistency",
    `${totals.positionConsistency.consistent} of ${totals.positionConsistency.judged} judged items got the same preference in both orders`,
  ],
  ["wall time", summary ? `${(summary.wallTimeMs / 1000).toFixed(1)} s` : undefined],
])}</header>`;
  const items = data.items.slice(0, options.maxRows).map(evalRecord);
  const body = `${header}<main>
<h2 id="plots">Plots</h2>${figures(charts)}
<h2 id="usage">Calls and tokens by step</h2>${usageTable(usage)}
<h2>Items</h2><p class="muted">Open an item for both answers and both raw judgements.</p>
${recordGroup("Benchmark items", "items", items, data.items.length, options, true)}
</main>`;
  return page(`codeclm evaluation: ${data.source}`, body, options);
}
