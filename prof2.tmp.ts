import { NearDuplicateIndex } from "./lib/dedupe.js";
import { syntheticInstructions } from "./test/support/synthetic-instructions.js";
const n = Number(process.argv[2] ?? 10000);
const texts = syntheticInstructions(n, { seed: 9, duplicateRate: 0.1 });
const index = new NearDuplicateIndex(0.7) as any;
let cands = 0, verified = 0;
const origSort = Array.prototype.sort;
const t = performance.now();
let dups = 0;
for (let i = 0; i < n; i++) { if (index.addUnlessDuplicate(String(i), texts[i])) dups++; }
console.log(n, dups, (performance.now() - t).toFixed(0), "ms");
// bucket stats
const sizes = [...index.postings.values()].map((b: number[]) => b.length).sort((a: number, b: number) => b - a);
console.log("postings", sizes.length, "top", sizes.slice(0, 10), "sum", sizes.reduce((a: number, b: number) => a + b, 0));
