import { describe, expect, it } from "vitest";
import type { AblationResult } from "../../eval/ablate.js";
import { formatAblationTable, formatEvalSummary, textTable } from "../../eval/format.js";
import type { EvalSummary } from "../../eval/records.js";
import { tallyOutcomes } from "../../lib/crr.js";

const summary = (): EvalSummary => ({
  kind: "eval",
  ...tallyOutcomes([
    { outcome: "win", category: "math", consistent: true },
    { outcome: "tie", category: "math", consistent: false },
    { outcome: "loss", category: "art", consistent: true },
    { outcome: "judge-failure", category: "art" },
  ]),
  winsMeaning: "",
  status: "incomplete",
  benchmark: "b.jsonl",
  models: { model: "openai:tuned", reference: "openai:strong", judge: "openai:judge" },
  answers: { model: "generated", reference: "generated" },
  settings: {},
  calls: { byRole: {}, byStep: {}, total: { calls: 0, failedCalls: 0, inputTokens: 0, outputTokens: 0 } },
  startedAt: "",
  finishedAt: "",
  wallTimeMs: 0,
});

describe("terminal tables", () => {
  it("right-aligns numeric columns and left-aligns text", () => {
    expect(
      textTable(
        ["name", "n"],
        [
          ["a", "1"],
          ["long name", "100"],
        ],
      ).split("\n"),
    ).toEqual(["name         n", "---------  ---", "a            1", "long name  100"]);
  });

  it("prints the evaluation overall, per category, with the failures it left out", () => {
    const text = formatEvalSummary(summary());
    expect(text).toMatch(/^all\s+1\s+1\s+1\s+1\s+66\.67%$/m);
    expect(text).toMatch(/^art\s+0\s+0\s+1\s+1\s+0\.00%$/m);
    expect(text).toMatch(/^math\s+1\s+1\s+0\s+0\s+100\.00%$/m);
    expect(text).toContain("over 3 judged item(s) of 4; 1 judge failure(s) and 0 answer failure(s) excluded");
    expect(text).toContain("position consistency: 66.67% (2/3");
  });

  it("prints the ablation table with the paper's CRR and what to do for rows not evaluated", () => {
    const result: AblationResult = {
      benchmark: "b.jsonl",
      reference: "openai:strong",
      judge: "openai:judge",
      rows: [
        {
          row: "no-metadata",
          label: "Self-Instruct style",
          paperCrr: 72.02,
          data: { path: "d/no-metadata.jsonl", kept: 10, requested: 10, status: "complete", reused: false },
          notEvaluated: "fine-tune",
        },
        {
          row: "full",
          label: "+ Contrastive Filtering (CodecLM)",
          paperCrr: 79.82,
          data: { path: "d/full.jsonl", kept: 9, requested: 10, status: "incomplete", reused: true },
          evaluation: { path: "x", summary: summary(), reused: false },
        },
      ],
    };
    const text = formatAblationTable(result);
    expect(text).toMatch(/^no-metadata\s+Self-Instruct style\s+10\/10\s+not evaluated\s+-\s+-\s+-\s+-\s+-\s+72\.02%$/m);
    expect(text).toMatch(
      /^full\s+\+ Contrastive Filtering \(CodecLM\)\s+9\/10\s+openai:tuned\s+1\s+1\s+1\s+1\s+66\.67%\s+79\.82%$/m,
    );
    expect(text).toContain("no-metadata: not evaluated: fine-tune");
  });
});
