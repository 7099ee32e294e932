import { type Tally, percent } from "../lib/crr.js";
import type { AblationResult } from "./ablate.js";
import type { EvalSummary } from "./records.js";

const NUMERIC = /^(?:-|n\/a|[\d.,/%]+)$/;

/** A plain-text table for the terminal: columns of numbers right-aligned, text left-aligned. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)));
  const numeric = header.map((_, column) => rows.length > 0 && rows.every((row) => NUMERIC.test(row[column] ?? "")));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n");
}

const tallyRow = (label: string, tally: Tally): string[] => [
  label,
  String(tally.wins),
  String(tally.ties),
  String(tally.losses),
  String(tally.judgeFailures + tally.answerFailures),
  percent(tally.crr),
];

/** The evaluation's result as the CLI prints it: overall first, then each category. */
export function formatEvalSummary(summary: EvalSummary): string {
  const rows = [tallyRow("all", summary)];
  for (const [category, tally] of Object.entries(summary.byCategory).sort(([a], [b]) => a.localeCompare(b))) {
    rows.push(tallyRow(category, tally));
  }
  const consistency = summary.positionConsistency;
  return [
    textTable(["category", "wins", "ties", "losses", "failed", "CRR"], rows),
    "",
    `CRR = (wins + ties) / (wins + ties + losses) = ${percent(summary.crr)} over ${summary.total} judged item(s) of ${summary.items}` +
      (summary.judgeFailures + summary.answerFailures > 0
        ? `; ${summary.judgeFailures} judge failure(s) and ${summary.answerFailures} answer failure(s) excluded`
        : ""),
    `wins = ${summary.models.model} scored higher than ${summary.models.reference} in both answer orders (judge: ${summary.models.judge})`,
    `position consistency: ${percent(consistency.rate)} (${consistency.consistent}/${consistency.judged} items where both orders preferred the same side)`,
  ].join("\n");
}

/** The ablation table as the CLI prints it: one line per row, the paper's CRR beside ours. */
export function formatAblationTable(result: AblationResult): string {
  const rows = result.rows.map((row) => {
    const summary = row.evaluation?.summary;
    const failed = summary ? summary.judgeFailures + summary.answerFailures : undefined;
    return [
      row.row,
      row.label,
      row.data ? `${row.data.kept}/${row.data.requested}` : "-",
      summary ? summary.models.model : "not evaluated",
      summary ? String(summary.wins) : "-",
      summary ? String(summary.ties) : "-",
      summary ? String(summary.losses) : "-",
      failed !== undefined ? String(failed) : "-",
      summary ? percent(summary.crr) : "-",
      row.paperCrr !== undefined ? `${row.paperCrr.toFixed(2)}%` : "-",
    ];
  });
  const notes = result.rows
    .filter((row) => row.notEvaluated)
    .map((row) => `${row.row}: not evaluated: ${row.notEvaluated}`);
  const evaluated = result.rows.some((row) => row.evaluation);
  return [
    textTable(
      ["row", "Table 3", "kept", "model under test", "wins", "ties", "losses", "failed", "CRR", "paper CRR"],
      rows,
    ),
    "",
    ...(evaluated
      ? [
          `CRR of each row's model against ${result.reference} on ${result.benchmark}, judged by ${result.judge} (both orders, wins-twice rule).`,
        ]
      : []),
    "paper CRR: Table 3 of the paper (LLaMA-7B tuned on 2000 pairs, Gemini-Pro strong, Evol-Instruct); comparable only in direction.",
    ...notes,
  ].join("\n");
}
