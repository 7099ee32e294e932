/**
 * The near-duplicate filter at scale: a run's index (lib/dedupe.ts) fed N instructions one at a time, as
 * decode rounds feed it, each compared with every earlier one. Reports the time and the memory the
 * index holds (heap after a full GC, before and after), and an estimate of comparing every pair.
 *
 * `npx tsx bench/dedupe.ts [N=10000] [threshold=0.7]`, or `runDedupeBench([10_000, 100_000])` (npm run bench).
 */
import { pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { NearDuplicateIndex, rougeL, tokenize } from "../lib/dedupe.js";
import { syntheticInstructions } from "../test/support/synthetic-instructions.js";

export interface DedupeBenchRow {
  instructions: number;
  threshold: number;
  nearDuplicates: number;
  ms: number;
  /** Per 1,000 instructions over the last tenth: does the cost per instruction stay flat as the run grows? */
  lastTenthMsPer1000: number;
  indexHeapMb: number;
  textMb: number;
  allPairsEstimateS: number;
}

// A full GC before each heap reading, without asking for a node flag.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as (() => void) | undefined;
const heapMb = () => {
  gc?.();
  return process.memoryUsage().heapUsed / 1e6;
};

export function dedupeBench(count: number, threshold = 0.7): DedupeBenchRow {
  const texts = syntheticInstructions(count, { seed: 9, duplicateRate: 0.1 });
  const before = heapMb();
  const index = new NearDuplicateIndex(threshold);
  let nearDuplicates = 0;
  const started = performance.now();
  let lastTenthStart = started;
  for (let i = 0; i < count; i++) {
    if (i === Math.floor(count * 0.9)) lastTenthStart = performance.now();
    if (index.addUnlessDuplicate(String(i), texts[i]!)) nearDuplicates++;
  }
  const ended = performance.now();
  const indexHeapMb = heapMb() - before;
  // Keep the index alive through the reading above (a dead one may be collected before it).
  if (index.size === 0 && count > 0) throw new Error("the index is empty");
  const textMb = texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0) / 1e6;

  // Every pair, on a sample, scaled by the pair count (n²/2) to N.
  const sample = Math.min(count, 1500);
  const tokens = texts.slice(0, sample).map(tokenize);
  const pairStart = performance.now();
  for (let i = 1; i < sample; i++) for (let j = 0; j < i; j++) rougeL(tokens[i]!, tokens[j]!);
  const pairsMs = ((performance.now() - pairStart) * (count * (count - 1))) / (sample * (sample - 1));
  return {
    instructions: count,
    threshold,
    nearDuplicates,
    ms: ended - started,
    lastTenthMsPer1000: ((ended - lastTenthStart) / (count - Math.floor(count * 0.9))) * 1000,
    indexHeapMb,
    textMb,
    allPairsEstimateS: pairsMs / 1000,
  };
}

export const formatDedupeRow = (row: DedupeBenchRow): string =>
  `${row.instructions} instructions, threshold ${row.threshold}: ${row.nearDuplicates} near-duplicates in ${(row.ms / 1000).toFixed(1)} s ` +
  `(${row.lastTenthMsPer1000.toFixed(0)} ms per 1,000 over the last tenth); index ${row.indexHeapMb.toFixed(0)} MB of heap ` +
  `(the texts themselves: ${row.textMb.toFixed(0)} MB); every pair, estimated: ${row.allPairsEstimateS.toFixed(0)} s`;

export function runDedupeBench(sizes: readonly number[]): DedupeBenchRow[] {
  return sizes.map((size) => dedupeBench(size));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const row = dedupeBench(Number(process.argv[2] ?? 10_000), Number(process.argv[3] ?? 0.7));
  process.stdout.write(`${formatDedupeRow(row)}\n`);
}
