/**
 * The evaluation sets that ship with codeclm (`data/benchmarks/`, sources and licences in its README):
 * `--benchmark NAME` (eval, ablate) and `--seeds NAME` (generate, ablate) resolve a name to its file in
 * the package, from the source tree and from the installed package alike. A path still works, and wins
 * over a name when such a file exists.
 *
 * The paper's four test sets must not become training data unnoticed: `testSetWarning` says so when
 * seeds come from one of them, by name, by path, or by content.
 */
import { existsSync, realpathSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, resolve as resolvePath } from "node:path";
import type { Seed } from "../lib/records.js";
import { normalizeSeedText } from "../lib/seed-sample.js";
import { type SeedSplit, type SplitPart, parseSplitSpec, splitItems, splitRecord } from "../lib/split.js";
import { InputError } from "./input-error.js";
import { type SeedFormat, readSeeds } from "./seeds.js";

export interface BenchmarkInfo {
  file: string;
  title: string;
  items: number;
  /** One of the paper's four test sets: seeding from it contaminates evaluations on it. */
  testSet: boolean;
  /** Why training on it is not allowed, when its licence or its authors say so. */
  restriction?: string;
}

export const BENCHMARKS = {
  vicuna: { file: "vicuna-80.jsonl", title: "Vicuna", items: 80, testSet: true },
  koala: {
    file: "koala-180.jsonl",
    title: "Koala",
    items: 180,
    testSet: true,
    restriction: "its authors release it for evaluation only and ask that it not be used for training",
  },
  "self-instruct": {
    file: "self-instruct-user-252.jsonl",
    title: "Self-Instruct user-oriented",
    items: 252,
    testSet: true,
    restriction: "its authors ask that it not be used for any training",
  },
  "evol-instruct": {
    file: "evol-instruct-218.jsonl",
    title: "Evol-Instruct",
    items: 218,
    testSet: true,
    restriction: "its data licence is CC BY-NC 4.0 (non-commercial use only)",
  },
  "mt-bench": { file: "mt-bench-80.jsonl", title: "MT-Bench", items: 80, testSet: false },
  "self-instruct-seed": {
    file: "self-instruct-seed-175.jsonl",
    title: "Self-Instruct seed tasks",
    items: 175,
    testSet: false,
  },
} as const satisfies Record<string, BenchmarkInfo>;

export type BenchmarkName = keyof typeof BENCHMARKS;
export const BENCHMARK_NAMES = Object.keys(BENCHMARKS) as BenchmarkName[];
/** The names `--benchmark` lists (the seed tasks are a seed source, not an evaluation set). */
export const EVALUATION_NAMES = BENCHMARK_NAMES.filter((name) => name !== "self-instruct-seed");

const isName = (spec: string): spec is BenchmarkName => Object.hasOwn(BENCHMARKS, spec);

/** `data/benchmarks/` of the package: beside the sources (io/), or two levels up from dist/io/. */
export function benchmarksDir(): string {
  for (const relative of ["../data/benchmarks/", "../../data/benchmarks/"]) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(join(dir, BENCHMARKS.vicuna.file))) return dir;
  }
  throw new Error("codeclm's data/benchmarks folder is missing from this installation");
}

const isFile = (path: string) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/**
 * The file for `spec`: an existing path as it is, else a built-in name's file in the package. Anything
 * else is returned as given (the reader then says the file is not found), except a bare word, which is
 * an `InputError` listing the names.
 */
export function resolveBenchmark(spec: string, names: readonly string[] = EVALUATION_NAMES): string {
  if (isFile(spec)) return spec;
  if (isName(spec)) return join(benchmarksDir(), BENCHMARKS[spec].file);
  if (/^[\w-]+$/.test(spec) && !existsSync(spec)) {
    throw new InputError(spec, undefined, `no such file, and not a built-in set (${names.join(", ")})`);
  }
  return spec;
}

const realpath = (path: string) => {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
};

let testSetTexts: Promise<Map<string, BenchmarkName>> | undefined;

/** Every instruction of the four test sets (whitespace-normalised), with its set. */
function testSetInstructions(): Promise<Map<string, BenchmarkName>> {
  testSetTexts ??= (async () => {
    const texts = new Map<string, BenchmarkName>();
    for (const name of BENCHMARK_NAMES.filter((n) => BENCHMARKS[n].testSet)) {
      for (const seed of await readSeeds(join(benchmarksDir(), BENCHMARKS[name].file)))
        texts.set(normalizeSeedText(seed.instruction), name);
    }
    return texts;
  })();
  return testSetTexts;
}

function readSplitSpecQuietly(spec: string) {
  if (isFile(spec)) return undefined;
  try {
    return parseSplitSpec(spec);
  } catch {
    return undefined;
  }
}

/** Seeds from a split of a test set: leakage is handled by `eval --data`; a licence that forbids training is not. */
function splitWarning(set: string): string | undefined {
  const name = BENCHMARK_NAMES.find((candidate) => sameSet(candidate, set));
  const info: BenchmarkInfo | undefined = name ? BENCHMARKS[name] : undefined;
  if (!name || !info?.restriction) return undefined;
  return `codeclm: warning: the seeds are a split of ${describeSet(name)}; evaluate on the rest with eval --data.`;
}

function describeSet(name: BenchmarkName): string {
  const info: BenchmarkInfo = BENCHMARKS[name];
  return `the ${info.title} test set${info.restriction ? ` (${info.restriction})` : ""}`;
}

/**
 * A warning when the seeds (`spec` as the user gave it, `path` as resolved, `seeds` the ones used) come
 * from one of the paper's four test sets, or undefined. Training data seeded from a test set makes
 * evaluations on that set meaningless, and three of the four may not be trained on at all.
 */
export async function testSetWarning(spec: string, path: string, seeds: readonly Seed[]): Promise<string | undefined> {
  const split = readSplitSpecQuietly(spec);
  if (split) return splitWarning(split.set);
  const resolved = realpath(path);
  const byFile = BENCHMARK_NAMES.find(
    (name) =>
      BENCHMARKS[name].testSet &&
      (spec === name || realpath(join(benchmarksDir(), BENCHMARKS[name].file)) === resolved),
  );
  const advice =
    "Seeding from a test set makes evaluations on it meaningless; the paper seeded from a 20% split and evaluated on the rest.";
  if (byFile) return `codeclm: warning: ${spec} is ${describeSet(byFile)}. ${advice}`;
  const texts = await testSetInstructions();
  const hits = new Map<BenchmarkName, number>();
  for (const seed of seeds) {
    const name = texts.get(normalizeSeedText(seed.instruction));
    if (name) hits.set(name, (hits.get(name) ?? 0) + 1);
  }
  if (hits.size === 0) return undefined;
  const parts = [...hits].map(([name, count]) => `${count} from ${describeSet(name)}`);
  return `codeclm: warning: of the ${seeds.length} seeds used from ${spec}, ${parts.join("; ")}. ${advice}`;
}

/** A split of a built-in set or a file: `spec` is `SET:20%` or `SET:16`; the part is seeded by `seed`. */
export async function readSplit(
  spec: string,
  options: { seed: number; field?: string; format?: SeedFormat },
): Promise<{ seeds: Seed[]; heldOut: Seed[]; split: SeedSplit } | undefined> {
  if (isFile(spec)) return undefined;
  let parsed: ReturnType<typeof parseSplitSpec>;
  try {
    parsed = parseSplitSpec(spec);
  } catch (error) {
    throw new InputError(spec, undefined, (error as Error).message);
  }
  if (!parsed) return undefined;
  return splitSet(parsed.set, parsed.part, options);
}

/** A seeded split of a set (a built-in name or a file) into seeds and held-out items, with its record. */
export async function splitSet(
  set: string,
  part: SplitPart,
  options: { seed: number; field?: string; format?: SeedFormat },
): Promise<{ seeds: Seed[]; heldOut: Seed[]; split: SeedSplit }> {
  const file = resolveBenchmark(set, BENCHMARK_NAMES);
  const items = await readSeeds(file, { field: options.field, format: options.format });
  try {
    const { seeds, heldOut } = splitItems(items, { part, seed: options.seed });
    const source = { set, file: resolvePath(file), items: items.length };
    return { seeds, heldOut, split: splitRecord(source, part, options.seed, seeds) };
  } catch (error) {
    throw new InputError(file, undefined, (error as Error).message);
  }
}

/** Whether `spec` (a name or a path) names the same set as `other`: the same name, or the same file. */
export function sameSet(spec: string, other: string): boolean {
  if (spec === other) return true;
  const file = (name: string) => {
    try {
      return realpath(resolveBenchmark(name, BENCHMARK_NAMES));
    } catch {
      return name;
    }
  };
  return file(spec) === file(other);
}
