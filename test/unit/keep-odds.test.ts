import { describe, expect, it } from "vitest";
import { JudgeTally, sparesWanted, upperBound } from "../../lib/keep-odds.js";

const tallyOf = (rows: Array<[iteration: number, judged: number, kept: number]>, minJudged = 10) => {
  const tally = new JudgeTally(minJudged);
  for (const [iteration, judged, kept] of rows) for (let i = 0; i < judged; i++) tally.add(iteration, i < kept);
  return tally;
};

describe("JudgeTally.keepOdds", () => {
  it("has no estimate before minJudged judgments", () => {
    expect(tallyOf([[1, 9, 5]]).keepOdds(1, 4)).toBeUndefined();
    expect(tallyOf([[1, 10, 5]]).keepOdds(1, 4)).toBeDefined();
  });

  it("is 1 - (1 - p_k)...(1 - p_cap), with the pooled rate where an iteration was judged too rarely", () => {
    // p1 = 0.6 (20 judged), p2 = 0.5 (10 judged), iterations 3 and 4 borrow the pooled 17/30.
    const tally = tallyOf([
      [1, 20, 12],
      [2, 10, 5],
    ]);
    const pooled = 17 / 30;
    expect(tally.keepOdds(1, 4)).toBeCloseTo(1 - 0.4 * 0.5 * (1 - pooled) ** 2, 10);
    expect(tally.keepOdds(2, 4)).toBeCloseTo(1 - 0.5 * (1 - pooled) ** 2, 10);
    expect(tally.keepOdds(4, 4)).toBeCloseTo(pooled, 10);
    expect(tally.keepOdds(1, 1)).toBeCloseTo(0.6, 10);
  });

  it("is more hopeful with a confidence margin, the more so the fewer the judgments", () => {
    const few = tallyOf([[1, 10, 5]]);
    const many = tallyOf([[1, 1000, 500]]);
    expect(few.keepOdds(1, 1, 1)! - 0.5).toBeGreaterThan(many.keepOdds(1, 1, 1)! - 0.5);
    expect(many.keepOdds(1, 1, 1)).toBeGreaterThan(0.5);
  });
});

describe("upperBound", () => {
  it("is the plain rate at z = 0 and the Wilson upper end otherwise", () => {
    expect(upperBound(3, 10, 0)).toBe(0.3);
    // Wilson, 3 of 10, z = 1.96: 0.6033
    expect(upperBound(3, 10, 1.96)).toBeCloseTo(0.6033, 3);
    expect(upperBound(10, 10, 2)).toBe(1);
    expect(upperBound(0, 0, 1)).toBe(1);
  });
});

describe("sparesWanted", () => {
  it("releases the certain shortfall without odds", () => {
    expect(sparesWanted(10, 2, [0, 5])).toBe(3);
    expect(sparesWanted(10, 2, [0, 8])).toBe(0);
    expect(sparesWanted(10, 2, [0, 9])).toBe(0);
  });

  it("releases the expected shortfall, in whole fresh instructions, floored", () => {
    // 100 open at iteration 1 with odds 0.9: 90 expected kept of 100 needed; 10 / 0.9 = 11.1 -> 11.
    expect(sparesWanted(100, 0, [0, 100], () => 0.9)).toBe(11);
    // An open instruction at a later iteration is less likely kept.
    const odds = (iteration: number) => (iteration === 1 ? 0.9 : 0.5);
    expect(sparesWanted(100, 0, [0, 90, 10], odds)).toBe(Math.floor((100 - 81 - 5) / 0.9));
  });

  it("never releases less than the certain shortfall, nor below zero", () => {
    expect(sparesWanted(10, 2, [0, 5], () => 1)).toBe(3);
    expect(sparesWanted(10, 9, [0, 5], () => 0.9)).toBe(0);
  });

  it("falls back to the certain shortfall while there is no estimate", () => {
    expect(sparesWanted(100, 0, [0, 100], () => undefined)).toBe(0);
  });
});
