/**
 * How long the near-duplicate filter takes on N decoded instructions, against comparing every pair.
 * `npx tsx bench/dedupe.ts [N=10000] [threshold=0.7]`
 */
import { findNearDuplicates, rougeL, tokenize } from "../lib/dedupe.js";
import { syntheticInstructions } from "../test/support/synthetic-instructions.js";

const count = Number(process.argv[2] ?? 10_000);
const threshold = Number(process.argv[3] ?? 0.7);
const texts = syntheticInstructions(count, { seed: 9, duplicateRate: 0.1 });
const items = texts.map((text, index) => ({ id: String(index), text }));

const started = performance.now();
const found = findNearDuplicates(items, threshold);
const indexedMs = performance.now() - started;

// Every pair, on a sample, scaled by the pair count (n²/2) to N.
const sample = Math.min(count, 1500);
const tokens = texts.slice(0, sample).map(tokenize);
const pairStart = performance.now();
for (let i = 1; i < sample; i++) for (let j = 0; j < i; j++) rougeL(tokens[i]!, tokens[j]!);
const pairsMs = ((performance.now() - pairStart) * (count * (count - 1))) / (sample * (sample - 1));

process.stdout.write(
  `${count} instructions, threshold ${threshold}: ${found.length} near-duplicates in ${indexedMs.toFixed(0)} ms ` +
    `(every pair, estimated from ${sample}: ${(pairsMs / 1000).toFixed(0)} s)\n`,
);
