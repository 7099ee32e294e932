import { createOutputFolders, writeTextAtomic } from "../runner/output.js";
import { totalsOf } from "../eval/run.js";
import { type Chart, type Prices, effectivePrices, evalCharts, runCharts, usageByStep } from "./charts.js";
import { type PageOptions, type RenderedChart, evalPage, runPage } from "./html.js";
import { type ReportData, loadReport } from "./load.js";
import { renderSvg } from "./render.js";

export interface ReportOptions {
  /** Where to write the page; default: beside the run, `<name>.report.html`. */
  html?: string;
  prices?: Prices;
  maxRows?: number;
  now?: Date;
}

/** `data.jsonl` → `data.report.html`, `DIR/eval.jsonl` → `DIR/eval.report.html`. */
export const reportPathFor = (source: string): string => `${source.replace(/\.jsonl?$/i, "")}.report.html`;

async function renderCharts(charts: readonly Chart[]): Promise<RenderedChart[]> {
  const out: RenderedChart[] = [];
  for (const chart of charts) {
    const { spec, ...rest } = chart;
    out.push(spec ? { ...rest, svg: await renderSvg(spec, chart.title) } : rest);
  }
  return out;
}

/** The page for already loaded data: plots rendered to inline SVG now, so viewing needs nothing. */
export async function buildReportHtml(data: ReportData, options: ReportOptions = {}): Promise<string> {
  const pageOptions: PageOptions = { maxRows: options.maxRows ?? 1000, generatedAt: options.now ?? new Date() };
  const prices = data.kind === "run" ? effectivePrices(options.prices ?? {}, data.summary?.models) : options.prices;
  const usage = usageByStep(data.summary?.calls.byStep, prices);
  if (data.kind === "eval") {
    return evalPage(
      data,
      totalsOf(data.items),
      await renderCharts(evalCharts(data, options.prices)),
      usage,
      pageOptions,
    );
  }
  return runPage(data, await renderCharts(runCharts(data, options.prices)), usage, pageOptions);
}

/** Reads a run (or an evaluation) and writes its report; returns the page's path. */
export async function writeReport(source: string, options: ReportOptions = {}): Promise<string> {
  const data = await loadReport(source);
  const html = await buildReportHtml(data, options);
  const path = options.html ?? reportPathFor(source);
  await createOutputFolders([path]);
  await writeTextAtomic(path, html, `${path}.partial`);
  return path;
}

export { loadReport, type ReportData };
