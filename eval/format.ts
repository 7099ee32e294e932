import { type Tally, percent } from "../lib/crr.js";
import type { EvalSummary } from "./records.js";

/** Left-aligned first column, right-aligned numbers: a plain-text table for the terminal. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
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
