import type { Command } from "commander";
import type { Prices } from "../report/charts.js";
import { withOutputLock } from "../runner/lock.js";
import { UsageError } from "./errors.js";
import { collect, deprecatedOutAlias, integer, outFrom } from "./options.js";

/** `ROLE=INPUT,OUTPUT` in USD per million tokens. */
export function parsePrices(specs: readonly string[]): Prices {
  const prices: Prices = {};
  for (const spec of specs) {
    const match = /^([a-z]+)=([\d.]+),([\d.]+)$/.exec(spec.trim());
    const input = Number(match?.[2]);
    const output = Number(match?.[3]);
    if (!match || !Number.isFinite(input) || !Number.isFinite(output)) {
      throw new UsageError(
        `--price takes ROLE=INPUT,OUTPUT in USD per million tokens (e.g. strong=2.5,10); got "${spec}"`,
      );
    }
    prices[match[1]!] = { input, output };
  }
  return prices;
}

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("Write a self-contained HTML report (plots and browsable examples) for a generate run or an eval")
    .argument(
      "<file>",
      "the run's kept-pairs JSONL (its .dropped.jsonl and .summary.json are read from beside it), or an eval's eval.jsonl",
    )
    .option("--out <file>", "where to write the page (default: beside the run, NAME.report.html)")
    .addOption(deprecatedOutAlias("--html"))
    .option(
      "--price <role=in,out>",
      "USD per million input and output tokens for a role, for costs (strong, target, judge; for an eval model, reference, judge); repeatable",
      collect,
    )
    .option("--max-rows <n>", "most records listed per table (default 1000)", integer(1))
    .action(async (file: string, flags: { out?: string; html?: string; price?: string[]; maxRows?: number }) => {
      const prices = parsePrices(flags.price ?? []);
      // Plotting (vega) and the run's readers load only once the flags are good.
      const { reportPathFor, writeReport } = await import("../report/index.js");
      const html = outFrom(flags.out, flags.html, "--html") ?? reportPathFor(file);
      const options = {
        html,
        prices,
        ...(flags.maxRows !== undefined ? { maxRows: flags.maxRows } : {}),
      };
      const path = await withOutputLock(`${html}.lock`, `codeclm report --out ${html}`, () =>
        writeReport(file, options),
      );
      process.stdout.write(`${path}\n`);
    });
}
