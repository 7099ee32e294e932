/**
 * What `eval --data RUN.jsonl` needs of the run whose data a model was tuned on: where its seeds came from
 * (the summary's `split`), the seeds' text, and the kept instructions.
 */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { Seed } from "../lib/records.js";
import { type SeedSplit, SeedSplitSchema } from "../lib/split.js";
import { exists } from "./files.js";
import { BENCHMARK_NAMES, resolveBenchmark } from "./benchmarks.js";
import { InputError } from "./input-error.js";
import { readSeeds } from "./seeds.js";

export interface RunData {
  /** The kept pairs' file. */
  path: string;
  summaryPath: string;
  /** Where the run's seeds came from; absent for runs from metadata (or made before splits were recorded). */
  split?: SeedSplit;
  /** The run's near-duplicate threshold (`settings.dedupeThreshold`). */
  dedupeThreshold?: number;
  /** The run's seeds with their text (empty without a split record). */
  seeds: Seed[];
  kept: Array<{ id: string; instruction: string }>;
}

/** `data.jsonl` → `data.summary.json` (generate's default). */
export const runSummaryPath = (path: string): string => `${path.replace(/\.jsonl?$/i, "")}.summary.json`;

interface SummaryFacts {
  split?: SeedSplit;
  dedupeThreshold?: number;
}

async function readSummaryFacts(summaryPath: string, runPath: string): Promise<SummaryFacts> {
  if (!(await exists(summaryPath))) {
    throw new InputError(
      runPath,
      undefined,
      `no run summary beside it (${summaryPath}): give the kept pairs of a finished codeclm generate run`,
    );
  }
  let summary: { split?: unknown; settings?: { dedupeThreshold?: unknown } };
  try {
    summary = JSON.parse(await readFile(summaryPath, "utf8")) as typeof summary;
  } catch (error) {
    throw new InputError(summaryPath, undefined, `is not a run summary: ${(error as Error).message}`);
  }
  const threshold = summary.settings?.dedupeThreshold;
  const facts: SummaryFacts = typeof threshold === "number" ? { dedupeThreshold: threshold } : {};
  if (summary.split === undefined) return facts;
  const split = SeedSplitSchema.safeParse(summary.split);
  if (!split.success) throw new InputError(summaryPath, undefined, "its `split` is not a split record");
  return { ...facts, split: split.data };
}

async function readKeptInstructions(path: string): Promise<RunData["kept"]> {
  const kept: RunData["kept"] = [];
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === "") continue;
    let record: { id?: unknown; instruction?: unknown };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      throw new InputError(path, number, "is not a JSON record of a kept pair");
    }
    if (typeof record.id !== "string" || typeof record.instruction !== "string")
      throw new InputError(path, number, "is not a kept pair (needs `id` and `instruction`)");
    kept.push({ id: record.id, instruction: record.instruction });
  }
  return kept;
}

/** The seeds' text, from the set's recorded file (or its name when the file moved). */
async function readSplitSeeds(split: SeedSplit): Promise<Seed[]> {
  const file = split.file && (await exists(split.file)) ? split.file : resolveBenchmark(split.set, BENCHMARK_NAMES);
  const ids = new Set(split.ids);
  return (await readSeeds(file)).filter((item) => ids.has(item.id));
}

/** The run's data as `eval --data` reads it; a missing or broken file is an `InputError` naming it. */
export async function readRunData(path: string): Promise<RunData> {
  if (!(await exists(path))) throw new InputError(path, undefined, "no such file (the kept pairs of a run)");
  const summaryPath = runSummaryPath(path);
  const { split, dedupeThreshold } = await readSummaryFacts(summaryPath, path);
  return {
    path,
    summaryPath,
    ...(split ? { split } : {}),
    ...(dedupeThreshold !== undefined ? { dedupeThreshold } : {}),
    seeds: split ? await readSplitSeeds(split) : [],
    kept: await readKeptInstructions(path),
  };
}
