import { describe, expect, it } from "vitest";
import type { RawScores } from "../../lib/records.js";
import { averageScores, checkScore, nextStep, verdictFor } from "../../lib/scoring.js";

const raw = (strongFirst: [number, number], targetFirst: [number, number]): RawScores => ({
  strongFirst: { strong: strongFirst[0], target: strongFirst[1] },
  targetFirst: { strong: targetFirst[0], target: targetFirst[1] },
});

describe("averageScores", () => {
  it("averages each model's score over the two answer orders", () => {
    // strong: (9 + 7) / 2 = 8, target: (2 + 4) / 2 = 3
    expect(averageScores(raw([9, 2], [7, 4]))).toEqual({ strong: 8, target: 3, gap: 5 });
  });

  it("cancels a constant bias toward the first position", () => {
    // true scores 6 / 5, +2 for whichever answer is shown first
    const biased = raw([6 + 2, 5], [6, 5 + 2]);
    expect(averageScores(biased)).toEqual({ strong: 7, target: 6, gap: 1 });
  });

  it("gives a negative gap when the target's answer is better (reverse case)", () => {
    const scores = averageScores(raw([2, 8], [3, 9]));
    expect(scores).toEqual({ strong: 2.5, target: 8.5, gap: -6 });
    expect(verdictFor(scores.gap, 3)).toBe("keep-target");
  });

  it("keeps half points", () => {
    expect(averageScores(raw([7, 3], [8, 4])).gap).toBe(4);
    expect(averageScores(raw([7, 4], [8, 4])).gap).toBe(3.5);
  });
});

describe("verdictFor", () => {
  it("keeps the strong answer only when the gap is strictly above theta", () => {
    expect(verdictFor(3, 3)).toBe("improve");
    expect(verdictFor(3.5, 3)).toBe("keep-strong");
    expect(verdictFor(3 + 1e-9, 3)).toBe("keep-strong");
    expect(verdictFor(9, 3)).toBe("keep-strong");
  });

  it("keeps the target's answer only when the gap is strictly below -theta", () => {
    expect(verdictFor(-3, 3)).toBe("improve");
    expect(verdictFor(-3.5, 3)).toBe("keep-target");
    expect(verdictFor(-3 - 1e-9, 3)).toBe("keep-target");
  });

  it("asks for improvement inside the band, zero included", () => {
    for (const gap of [-2.5, -1, 0, 0.5, 2.5]) expect(verdictFor(gap, 3)).toBe("improve");
  });

  it("with theta 0 only a tie is improved", () => {
    expect(verdictFor(0, 0)).toBe("improve");
    expect(verdictFor(0.5, 0)).toBe("keep-strong");
    expect(verdictFor(-0.5, 0)).toBe("keep-target");
  });
});

describe("nextStep", () => {
  it("sends an improvable instruction to action-apply below the cap", () => {
    for (const iteration of [1, 2, 3]) expect(nextStep("improve", iteration, 4)).toBe("action-apply");
  });

  it("drops an improvable instruction at the cap", () => {
    expect(nextStep("improve", 4, 4)).toBe("drop");
    expect(nextStep("improve", 1, 1)).toBe("drop");
  });

  it("keeps at any iteration", () => {
    for (const iteration of [1, 2, 3, 4]) {
      expect(nextStep("keep-strong", iteration, 4)).toBe("keep");
      expect(nextStep("keep-target", iteration, 4)).toBe("keep");
    }
  });
});

describe("checkScore", () => {
  it("accepts numbers on the 1-10 scale, ends and fractions included", () => {
    for (const value of [1, 5.5, 10]) expect(checkScore(value)).toBeUndefined();
  });

  it("rejects numbers outside 1-10", () => {
    for (const value of [0, 0.99, 10.01, 11, -3]) expect(checkScore(value)).toMatch(/outside 1-10/);
  });

  it("rejects non-numbers", () => {
    for (const value of ["7", null, undefined, Number.NaN, Number.POSITIVE_INFINITY, {}, [7]]) {
      expect(checkScore(value)).toMatch(/not a number/);
    }
  });
});
