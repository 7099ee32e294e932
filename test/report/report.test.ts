import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../io/input-error.js";
import type { KeptPair } from "../../lib/records.js";
import {
  coverage,
  effectivePrices,
  filteringPasses,
  gapBins,
  keptPerIteration,
  outcomeSplit,
  usageByStep,
} from "../../report/charts.js";
import { escapeHtml } from "../../report/html.js";
import { buildReportHtml, reportPathFor, writeReport } from "../../report/index.js";
import { type EvalReportData, type RunReportData, loadReport } from "../../report/load.js";
import { runCli } from "../support/cli.js";
import { HOSTILE, makeEval, makeRun } from "./fixtures.js";

let dir: string;
let runPath: string;
let evalPath: string;
let siPath: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "codeclm-report-"));
  runPath = await makeRun(dir);
  siPath = await makeRun(dir, "si", "no-metadata", 6);
  evalPath = await makeEval(join(dir, "ev"));
});

describe("report data", () => {
  it("loads a run with its dropped file and summary, and an evaluation", async () => {
    const run = (await loadReport(runPath)) as RunReportData;
    expect(run.kind).toBe("run");
    expect(run.kept).toHaveLength(24);
    expect(run.summary?.inputMetadata?.source).toBe("seeds");
    expect(run.summary?.inputMetadata?.items).toBe(5);
    const ev = (await loadReport(evalPath)) as EvalReportData;
    expect(ev.kind).toBe("eval");
    expect(ev.items).toHaveLength(8);
  });

  it("says a run that has not finished is not there yet", async () => {
    await writeFile(join(dir, "unfinished.jsonl.partial"), "");
    await expect(loadReport(join(dir, "unfinished.jsonl"))).rejects.toThrow("the run has not finished");
    await writeFile(join(dir, "junk.jsonl"), '{"hello": 1}\n');
    await expect(loadReport(join(dir, "junk.jsonl"))).rejects.toThrow(InputError);
  });

  it("counts kept pairs per iteration (Figure 3) from the summary", async () => {
    const run = (await loadReport(runPath)) as RunReportData;
    const bars = keptPerIteration(run);
    expect(bars.reduce((sum, bar) => sum + bar.kept, 0)).toBe(24);
    expect(bars.map((bar) => bar.iteration)).toEqual([...bars.map((bar) => bar.iteration)].sort());
    expect(bars[0]!.label).toMatch(/^\d+ \(\d+%\)$/);
  });

  it("classifies every judged pass by what its gap decided", async () => {
    const run = (await loadReport(runPath)) as RunReportData;
    const passes = filteringPasses(run);
    const total = run.kept.reduce((sum, pair) => sum + pair.lineage.iterations.length, 0);
    expect(passes.length).toBeGreaterThanOrEqual(total);
    for (const pass of passes) {
      if (pass.pass === "kept") expect(Math.abs(pass.gap)).toBeGreaterThan(3);
      else expect(Math.abs(pass.gap)).toBeLessThanOrEqual(3);
    }
    expect(passes.filter((pass) => pass.pass === "kept").length).toBeGreaterThanOrEqual(24);
  });

  it("bins gaps at half points, centred on the value", () => {
    const bins = gapBins([
      { gap: 3, pass: "sent back to Self-Rubrics" },
      { gap: 3, pass: "sent back to Self-Rubrics" },
      { gap: 3.5, pass: "kept" },
      { gap: -6, pass: "kept" },
    ]);
    expect(bins.map((bin) => [bin.gap, bin.pass, bin.count])).toEqual([
      [-6, "kept", 1],
      [3, "sent back to Self-Rubrics", 2],
      [3.5, "kept", 1],
    ]);
    expect(bins[1]!.from).toBeLessThan(3);
    expect(bins[1]!.to).toBeGreaterThan(3);
  });

  it("compares use-case shares in the seeds with the kept data", async () => {
    const run = (await loadReport(runPath)) as RunReportData;
    const { rows, inputLabel } = coverage(run, "useCases", 12);
    expect(inputLabel).toBe("seeds");
    const seedShares = rows.filter((row) => row.source === "seeds").reduce((sum, row) => sum + row.share, 0);
    const keptShares = rows.filter((row) => row.source === "kept data").reduce((sum, row) => sum + row.share, 0);
    expect(seedShares).toBeCloseTo(1);
    expect(keptShares).toBeCloseTo(1);
    const pairs: KeptPair[] = run.kept
      .slice(0, 2)
      .map((pair, i) => ({ ...pair, metadata: { useCase: i ? "Poetry" : "poetry", skills: [] } }));
    const merged = coverage({ ...run, kept: pairs, summary: undefined }, "useCases", 5);
    expect(merged).toEqual({ rows: [{ name: "poetry", source: "kept data", share: 1, count: 2 }] });
  });

  it("prices steps by role, the judge at the strong price when it is the strong model", () => {
    const byStep = {
      judge: { calls: 2, failedCalls: 0, inputTokens: 1_000_000, outputTokens: 0 },
      "answer-target": { calls: 1, failedCalls: 0, inputTokens: 0, outputTokens: 1_000_000 },
      decode: { calls: 1, failedCalls: 1, inputTokens: 10, outputTokens: 10 },
    };
    const prices = effectivePrices(
      { strong: { input: 2, output: 8 }, target: { input: 0.1, output: 0.4 } },
      { strong: "s", judge: "s" },
    );
    const usage = usageByStep(byStep, prices);
    expect(usage.find((step) => step.step === "judge")!.cost).toBe(2);
    expect(usage.find((step) => step.step === "answer-target")!.cost).toBeCloseTo(0.4);
    expect(
      usageByStep(byStep, effectivePrices({ strong: { input: 2, output: 8 } }, { strong: "s", judge: "j" })).find(
        (s) => s.step === "judge",
      )!.cost,
    ).toBeUndefined();
    expect(usageByStep(byStep).every((step) => step.cost === undefined)).toBe(true);
  });

  it("splits an evaluation into wins, ties and losses, overall and per category", async () => {
    const ev = (await loadReport(evalPath)) as EvalReportData;
    const split = outcomeSplit(ev);
    const all = Object.fromEntries(
      split.filter((row) => row.category.startsWith("all")).map((row) => [row.outcome, row.count]),
    );
    expect(all).toEqual({ win: 3, tie: 2, loss: 2 });
    expect(split.find((row) => row.category.startsWith("all"))!.category).toBe("all (n=7)");
  });
});

describe("the page", () => {
  it("is self-contained: inline SVG plots, no script, nothing loaded from elsewhere, every text escaped", async () => {
    const run = (await loadReport(runPath)) as RunReportData;
    // Hostile text where a run can carry it: an instruction, a response, a use case (drawn in a plot), an id.
    const [first, ...rest] = run.kept;
    const hostile = {
      ...first!,
      id: HOSTILE,
      instruction: HOSTILE,
      response: HOSTILE,
      metadata: { useCase: HOSTILE, skills: [HOSTILE] },
    };
    const html = await buildReportHtml({ ...run, kept: [hostile, ...rest] }, { now: new Date(0) });
    expect(html).toContain("Content-Security-Policy");
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/\s(?:src|href)="(?!#)/i);
    expect(html).not.toMatch(/<link/i);
    for (const id of [
      "plot-iterations",
      "plot-gaps",
      "plot-coverage-use-cases",
      "plot-coverage-skills",
      "plot-usage",
    ]) {
      const figure = new RegExp(`<figure id="${id}" class="plot"><h3>[^<]*</h3><svg `);
      expect(html).toMatch(figure);
    }
    expect(html).toContain(escapeHtml(HOSTILE));
    const plot = /<figure id="plot-coverage-use-cases"[\s\S]*?<\/figure>/.exec(html)![0];
    expect(plot).toContain("&lt;script&gt;"); // drawn in the plot, escaped by Vega
    expect(html).toContain('<details class="record kept"');
    expect(html).toContain('<details class="group" id="dropped"');
  });

  it("says why a plot is empty for an ablation row without filtering", async () => {
    const html = await buildReportHtml(await loadReport(siPath));
    expect(html).toContain("No judge scores: the no-metadata ablation does not filter.");
    expect(html).toContain("No use cases: the pairs of this run carry no metadata.");
  });

  it("shows an evaluation's split, items and both raw judgements, escaped", async () => {
    const html = await buildReportHtml(await loadReport(evalPath));
    expect(html).toMatch(/<figure id="plot-outcomes" class="plot"><h3>[^<]*<\/h3><svg /);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain("judgement, reference&#39;s answer shown first");
    expect(html).toContain("judge-failure");
    expect(html).toContain("&lt;script&gt;");
  });

  it("lists at most --max-rows records and says how many more there are", async () => {
    const html = await buildReportHtml(await loadReport(runPath), { maxRows: 5 });
    expect(html.match(/<details class="record kept"/g)).toHaveLength(5);
    expect(html).toContain("19 more not listed (--max-rows 5)");
  });

  it("is written beside the run, or where --out says (even into a new folder)", async () => {
    expect(reportPathFor("/x/data.jsonl")).toBe("/x/data.report.html");
    const path = await writeReport(runPath);
    expect(path).toBe(join(dir, "run.report.html"));
    expect(await readFile(path, "utf8")).toMatch(/^<!doctype html>/);
    const elsewhere = join(dir, "new", "nested", "elsewhere.html");
    const result = await runCli(["report", evalPath, "--out", elsewhere, "--price", "judge=1,2"], {});
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(elsewhere);
    expect(await readFile(elsewhere, "utf8")).toContain("cost (USD)");
    // The old flag still works, with a warning.
    const old = await runCli(["report", evalPath, "--html", join(dir, "old", "page.html")], {});
    expect(old.code).toBe(0);
    expect(old.stderr).toContain("--html is deprecated: use --out");
    expect(await readFile(join(dir, "old", "page.html"), "utf8")).toMatch(/^<!doctype html>/);
    const bad = await runCli(["report", evalPath, "--price", "judge=cheap"], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--price takes ROLE=INPUT,OUTPUT");
  });
});

describe("tailoring in the report", () => {
  it("shows the summary's tailoring beside the coverage plots", async () => {
    const run = (await loadReport(runPath)) as RunReportData;
    const tailoring = run.summary?.tailoring;
    expect(tailoring?.reference).toBe("seeds");
    for (const value of [tailoring?.useCaseDivergence, tailoring?.skillDivergence, tailoring?.pool.skillDivergence]) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(1);
    }
    expect(tailoring?.items).toBe(24);
    const html = await buildReportHtml(run, { now: new Date(0) });
    const table = /<table class="usage" id="tailoring">[\s\S]*?<\/table>/.exec(html)![0];
    expect(table).toContain(`<td class="n">${tailoring!.useCaseDivergence!.toFixed(3)}</td>`);
    const plot = /<figure id="plot-coverage-skills"[\s\S]*?<\/figure>/.exec(html)![0];
    expect(plot).toContain(`Jensen–Shannon divergence from the seeds ${tailoring!.skillDivergence!.toFixed(3)}`);
  });
});
