/** `--dry-run`: the estimate as a table, and each budget set against it. */
import type { Estimate } from "../lib/estimate.js";
import type { CodecConfig } from "../lib/config.js";
import { PRICES_AS_OF } from "../lib/prices.js";

type Budget = CodecConfig["budget"];

/**
 * Each budget set against the estimate: within it (with the headroom), or over it (how far the run
 * would get, and what budget the whole run needs). The range's high end is the pessimistic keep rate.
 */
export function budgetLines(estimate: Estimate, budget: Budget | undefined): string[] {
  if (!budget) return [];
  const { total } = estimate;
  const worst = estimate.range.reduce((a, b) => (b.calls > a.calls ? b : a), {
    calls: total.calls,
    costUsd: total.costUsd,
    keepPerPass: 0,
  });
  const lines: string[] = [];
  const compare = (
    flag: string,
    limit: number,
    expected: number,
    pessimistic: number | undefined,
    show: (n: number) => string,
  ) => {
    const worstCase = pessimistic !== undefined && pessimistic > expected ? ` (pessimistic: ${show(pessimistic)})` : "";
    if (expected > limit) {
      const share = Math.max(1, Math.floor((limit / expected) * 100));
      lines.push(
        `${flag} ${show(limit)} is below the estimate of ${show(expected)}${worstCase}: the run would stop (resumably) about ${share}% of the way.`,
      );
    } else if (pessimistic !== undefined && pessimistic > limit) {
      lines.push(
        `${flag} ${show(limit)} covers the estimate of ${show(expected)} but not the pessimistic ${show(pessimistic)}.`,
      );
    } else {
      lines.push(`${flag} ${show(limit)} covers the estimate of ${show(expected)}${worstCase}.`);
    }
  };
  const count = (n: number) => Math.round(n).toLocaleString("en-US");
  const usd = (n: number) => `$${n.toFixed(2)}`;
  if (budget.maxCalls != null) compare("--max-calls", budget.maxCalls, total.calls, worst.calls, count);
  if (budget.maxTokens != null)
    compare("--max-tokens", budget.maxTokens, total.inputTokens + total.outputTokens, undefined, count);
  if (budget.maxCostUsd != null) {
    if (total.unpriced.length > 0)
      lines.push(
        `--max-cost ${usd(budget.maxCostUsd)} cannot be compared: no price for ${total.unpriced.join(", ")} (give --prices FILE).`,
      );
    else compare("--max-cost", budget.maxCostUsd, total.costUsd, worst.costUsd, usd);
  }
  return lines.map((line) => `Budget: ${line}`);
}

export function formatEstimate(estimate: Estimate, budget?: Budget): string {
  const usd = (n: number | undefined) => (n === undefined ? "no price" : `$${n.toFixed(2)}`);
  const rows = estimate.steps.map(
    (step) =>
      `  ${step.step.padEnd(16)} ${step.model.padEnd(32)} ${String(step.calls).padStart(8)} ${String(step.inputTokens).padStart(11)} ${String(step.outputTokens).padStart(11)} ${usd(step.costUsd).padStart(10)}`,
  );
  const { total, assumptions } = estimate;
  return [
    `Estimate (nothing was called): about ${estimate.instructions} instructions filtered to keep the requested pairs`,
    `  ${"step".padEnd(16)} ${"model".padEnd(32)} ${"calls".padStart(8)} ${"input tok".padStart(11)} ${"output tok".padStart(11)} ${"cost".padStart(10)}`,
    ...rows,
    `  ${"total".padEnd(16)} ${"".padEnd(32)} ${String(total.calls).padStart(8)} ${String(total.inputTokens).padStart(11)} ${String(total.outputTokens).padStart(11)} ${`$${total.costUsd.toFixed(2)}`.padStart(10)}`,
    `Assumes ${Math.round(assumptions.keepPerPass * 100)}% of instructions kept per filtering pass and answers of about ${assumptions.answerTokens} tokens; ` +
      estimate.range
        .map((r) => `at ${Math.round(r.keepPerPass * 100)}%: ${r.calls} calls, $${r.costUsd.toFixed(2)}`)
        .join("; ") +
      ".",
    `Prices as of ${PRICES_AS_OF} (override with --prices FILE)${total.unpriced.length > 0 ? `; no price for ${total.unpriced.join(", ")}: tokens only` : ""}.`,
    ...(budget
      ? budgetLines(estimate, budget)
      : estimate.budgetStop
        ? [`This would hit a budget: ${estimate.budgetStop.message}.`]
        : []),
  ].join("\n");
}
