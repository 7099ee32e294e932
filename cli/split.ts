import { join } from "node:path";
import type { Command } from "commander";
import { exists } from "../io/files.js";
import { BENCHMARK_NAMES, splitSet } from "../io/benchmarks.js";
import type { SeedFormat } from "../io/seeds.js";
import type { Seed } from "../lib/records.js";
import type { SeedSplit, SplitPart } from "../lib/split.js";
import { createOutputFolders, writeTextAtomic } from "../runner/output.js";
import { UsageError } from "./errors.js";
import { decimal, integer } from "./options.js";

export interface SplitFlags {
  fraction?: number;
  count?: number;
  seed: number;
  out: string;
  field?: string;
  format?: SeedFormat;
  force?: boolean;
}

/** The files `codeclm split` writes in DIR. */
export const splitPathsFor = (dir: string) => ({
  seeds: join(dir, "seeds.jsonl"),
  heldOut: join(dir, "held-out.jsonl"),
  record: join(dir, "split.json"),
});

const jsonl = (items: readonly Seed[]) =>
  items
    .map((item) =>
      JSON.stringify({
        id: item.id,
        instruction: item.instruction,
        ...(item.category !== undefined ? { category: item.category } : {}),
      }),
    )
    .map((line) => `${line}\n`)
    .join("");

function partFrom(flags: SplitFlags): SplitPart {
  if ((flags.fraction === undefined) === (flags.count === undefined))
    throw new UsageError("give exactly one of --fraction F (e.g. 0.2) or --count N");
  if (flags.count !== undefined) return { count: flags.count };
  if (!(flags.fraction! > 0 && flags.fraction! < 1)) throw new UsageError("--fraction must be between 0 and 1");
  return { fraction: flags.fraction! };
}

/** Split SET and write its two parts (and the split's record) to DIR; existing files are kept unless --force. */
export async function splitCommand(set: string, flags: SplitFlags): Promise<{ seeds: number; heldOut: number }> {
  const part = partFrom(flags);
  const paths = splitPathsFor(flags.out);
  if (!flags.force) {
    const taken: string[] = [];
    for (const path of Object.values(paths)) if (await exists(path)) taken.push(path);
    if (taken.length > 0) throw new UsageError(`output already exists: ${taken.join(", ")} (use --force to overwrite)`);
  }
  const parts = await splitSet(set, part, flags);
  await writeSplitFiles(flags.out, parts);
  return { seeds: parts.seeds.length, heldOut: parts.heldOut.length };
}

/** The two parts and the split's record in DIR; the record last: its presence says both parts were written. */
export async function writeSplitFiles(
  dir: string,
  parts: { seeds: readonly Seed[]; heldOut: readonly Seed[]; split: SeedSplit },
): Promise<void> {
  const paths = splitPathsFor(dir);
  await createOutputFolders(Object.values(paths));
  await writeTextAtomic(paths.seeds, jsonl(parts.seeds), `${paths.seeds}.partial`);
  await writeTextAtomic(paths.heldOut, jsonl(parts.heldOut), `${paths.heldOut}.partial`);
  await writeTextAtomic(paths.record, `${JSON.stringify(parts.split, null, 2)}\n`, `${paths.record}.partial`);
}

export function registerSplit(program: Command): void {
  program
    .command("split")
    .description(
      "Split an evaluation set into seeds and held-out items (seeded, stratified by category), as the paper did (20% seeds)",
    )
    .argument("<set>", `a built-in set (${BENCHMARK_NAMES.join(", ")}) or a file (as --seeds)`)
    .option("--fraction <f>", "share of the set taken as seeds, e.g. 0.2", decimal(0))
    .option("--count <n>", "number of items taken as seeds", integer(1))
    .option("--seed <n>", "random seed of the split", integer(0), 42)
    .requiredOption("--out <dir>", "directory for seeds.jsonl, held-out.jsonl and split.json")
    .option("--field <name>", "the field holding the instruction")
    .option("--format <format>", "file format (auto, jsonl, json, csv, tsv, text)", "auto")
    .option("--force", "overwrite existing outputs")
    .action(async (set: string, flags: SplitFlags) => {
      const counts = await splitCommand(set, flags);
      const paths = splitPathsFor(flags.out);
      process.stdout.write(
        `${set}: ${counts.seeds} seeds -> ${paths.seeds}; ${counts.heldOut} held out -> ${paths.heldOut}; split -> ${paths.record}\n`,
      );
    });
}
