import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../lib/config.js";
import type { PoolEntry } from "../../lib/records.js";
import { buildSummary } from "../../lib/summary.js";
import { coverageShare, jensenShannon, runTailoring } from "../../lib/tailoring.js";
import { emptyProgress } from "../../lib/tasks.js";
import { emptyUsage } from "../../lib/usage.js";

// Hand-computed: P = (1/2, 1/2), Q = (1, 0), M = (3/4, 1/4).
// KL(P||M) = 1/2 log2(2/3) + 1/2 log2(2) = 0.2075187…; KL(Q||M) = log2(4/3) = 0.4150375…; JS = their mean.
const HALF_VS_ONE = 0.311278;
// P = (3/4, 1/4), Q = (1/4, 3/4), M = (1/2, 1/2): JS = 1 - H(1/4) = 1 - 0.8112781 = 0.1887219.
const QUARTERS = 0.188722;

describe("jensenShannon (base 2)", () => {
  it("matches hand-computed values", () => {
    expect(jensenShannon({ a: 1, b: 1 }, { a: 5 })).toBeCloseTo(HALF_VS_ONE, 6);
    expect(jensenShannon({ a: 3, b: 1 }, { a: 1, b: 3 })).toBeCloseTo(QUARTERS, 6);
  });
  it("is 0 for the same distribution at any scale, 1 for disjoint ones, symmetric, case-insensitive", () => {
    expect(jensenShannon({ a: 2, b: 6 }, { A: 1, b: 3 })).toBe(0);
    expect(jensenShannon({ a: 1 }, { b: 4 })).toBe(1);
    expect(jensenShannon({ a: 5 }, { a: 1, b: 1 })).toBe(jensenShannon({ a: 1, b: 1 }, { a: 5 }));
  });
  it("is null when a side is empty", () => {
    expect(jensenShannon({}, { a: 1 })).toBeNull();
    expect(jensenShannon({ a: 1 }, { b: 0 })).toBeNull();
  });
});

describe("coverageShare", () => {
  it("is the share of the reference's names seen at least once", () => {
    expect(coverageShare({ a: 3, b: 1, c: 1, d: 1 }, { A: 1, c: 9, z: 2 })).toBe(0.5);
    expect(coverageShare({}, { a: 1 })).toBeNull();
  });
});

const entry = (id: string, useCase: string, skills: string[]): PoolEntry => ({
  id,
  origin: "seed",
  seedIds: [],
  useCase,
  skills,
});

describe("runTailoring", () => {
  // Reference: use cases qa ×2, code ×2; skills x ×3, y ×1.
  const reference = { source: "seeds" as const, items: 4, useCases: { qa: 2, code: 2 }, skills: { x: 3, y: 1 } };
  const pool = [entry("m0", "qa", ["x"]), entry("m1", "code", ["y"]), entry("m2", "poems", ["x", "z"])];

  it("weights kept metadata by pairs kept, and measures the pool once per entry", () => {
    const tailoring = runTailoring(reference, pool, { m0: 3, m2: 1, gone: 7 });
    // Kept use cases: qa ×3, poems ×1 vs (1/2, 1/2, 0): P = (1/2, 1/2, 0), Q = (3/4, 0, 1/4).
    // M = (5/8, 1/4, 1/8): KL(P||M) = 1/2 log2(4/5) + 1/2 log2(2) = 0.3390359; KL(Q||M) = 3/4 log2(6/5) + 1/4 log2(2) = 0.4472757.
    expect(tailoring.useCaseDivergence).toBeCloseTo((0.3390359 + 0.4472757) / 2, 6);
    expect(tailoring.useCaseCoverage).toBe(0.5);
    expect(tailoring.skillCoverage).toBe(0.5);
    expect(tailoring.items).toBe(4);
    expect(tailoring.pool.items).toBe(3);
    expect(tailoring.pool.useCaseCoverage).toBe(1);
    expect(tailoring.pool.skillCoverage).toBe(1);
    for (const value of [tailoring.skillDivergence, tailoring.pool.useCaseDivergence, tailoring.pool.skillDivergence]) {
      expect(value).toBeGreaterThan(0);
      expect(value).toBeLessThanOrEqual(1);
    }
  });

  it("is in the run summary, from the seeds' metadata and the pairs kept per metadata", () => {
    const summary = buildSummary(
      {
        encoded: [
          { seedId: "s0", useCase: "qa", skills: ["x"] },
          { seedId: "s1", useCase: "code", skills: ["x"] },
        ],
        pool: [entry("m0", "qa", ["x"]), entry("m1", "code", ["x"])],
        poolStats: { size: 2 },
        round: 1,
        decodedCount: 2,
        progress: { ...emptyProgress(), kept: 2, keptByMetadata: { m0: 2 } },
        tally: {},
        usage: emptyUsage(),
      },
      resolveConfig({ size: 2 }),
      { stopReason: "done", models: { strong: "s", target: "t", judge: "s" }, finishedAt: 1 },
    );
    // Kept use cases (qa only) vs seeds' (qa, code): HALF_VS_ONE; skills: x only on both sides: 0.
    expect(summary.tailoring?.useCaseDivergence).toBeCloseTo(HALF_VS_ONE, 6);
    expect(summary.tailoring?.skillDivergence).toBe(0);
    expect(summary.tailoring?.pool.useCaseDivergence).toBe(0);
    expect(summary.tailoring?.reference).toBe("seeds");
  });
});
