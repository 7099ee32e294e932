import { describe, expect, it } from "vitest";
import { pickAction } from "../../lib/actions.js";
import { createRng, pickOne, randomInt, sampleWithoutReplacement, shuffle } from "../../lib/rng.js";

const draws = (seed: number, key: Array<string | number>, n: number) => {
  const rng = createRng(seed, ...key);
  return Array.from({ length: n }, () => rng());
};

describe("rng", () => {
  it("is deterministic for a seed and key", () => {
    expect(draws(42, ["pool"], 20)).toEqual(draws(42, ["pool"], 20));
  });

  it("differs across seeds and keys", () => {
    expect(draws(42, ["pool"], 5)).not.toEqual(draws(43, ["pool"], 5));
    expect(draws(42, ["pool"], 5)).not.toEqual(draws(42, ["ranks"], 5));
    // key parts are separated: ("ab","c") is not ("a","bc")
    expect(draws(1, ["ab", "c"], 5)).not.toEqual(draws(1, ["a", "bc"], 5));
  });

  it("draws in [0, 1)", () => {
    for (const value of draws(7, [], 2000)) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
    }
  });

  it("randomInt covers the inclusive range", () => {
    const rng = createRng(5);
    const seen = new Set(Array.from({ length: 500 }, () => randomInt(rng, 1, 3)));
    expect([...seen].sort()).toEqual([1, 2, 3]);
  });

  it("shuffle permutes without mutating; sampleWithoutReplacement takes distinct items", () => {
    const items = [1, 2, 3, 4, 5, 6, 7, 8];
    const shuffled = shuffle(createRng(1), items);
    expect([...shuffled].sort()).toEqual(items);
    expect(items).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const sample = sampleWithoutReplacement(createRng(2), items, 5);
    expect(new Set(sample).size).toBe(5);
    expect(sampleWithoutReplacement(createRng(2), items, 50)).toHaveLength(8);
    expect(sampleWithoutReplacement(createRng(2), items, -1)).toEqual([]);
  });

  it("pickOne refuses an empty list", () => {
    expect(() => pickOne(createRng(1), [])).toThrow();
  });
});

describe("pickAction", () => {
  const actions = ["add constraints", "require a table", "add a counter-argument", "ask for code"];

  it("without replacement never repeats within the first N improvements", () => {
    for (let id = 0; id < 50; id++) {
      const picked = [0, 1, 2, 3].map((improvement) =>
        pickAction(actions, { seed: 42, instructionId: `i${id}`, improvement, sampling: "without-replacement" }),
      );
      expect(new Set(picked).size).toBe(actions.length);
    }
  });

  it("without replacement starts a fresh cycle after N improvements", () => {
    const picked = [4, 5, 6, 7].map((improvement) =>
      pickAction(actions, { seed: 1, instructionId: "x", improvement, sampling: "without-replacement" }),
    );
    expect(new Set(picked).size).toBe(actions.length);
  });

  it("with replacement can repeat (and only draws from the actions)", () => {
    let repeated = false;
    for (let id = 0; id < 50 && !repeated; id++) {
      const picked = [0, 1, 2].map((improvement) =>
        pickAction(actions, { seed: 42, instructionId: `i${id}`, improvement, sampling: "with-replacement" }),
      );
      for (const action of picked) expect(actions).toContain(action);
      repeated = new Set(picked).size < picked.length;
    }
    expect(repeated).toBe(true);
  });

  it("is deterministic per (seed, instruction id, improvement) and varies across instructions", () => {
    for (const sampling of ["without-replacement", "with-replacement"] as const) {
      const seq = (id: string, seed = 42) =>
        [0, 1, 2].map((improvement) => pickAction(actions, { seed, instructionId: id, improvement, sampling }));
      expect(seq("m0-r1-0")).toEqual(seq("m0-r1-0"));
      const distinct = new Set(Array.from({ length: 30 }, (_, i) => seq(`m${i}-r1-0`).join("|")));
      expect(distinct.size).toBeGreaterThan(1);
      const bySeed = new Set(Array.from({ length: 30 }, (_, s) => seq("m0-r1-0", s).join("|")));
      expect(bySeed.size).toBeGreaterThan(1);
    }
  });

  it("works with a single action and refuses none", () => {
    expect(pickAction(["only"], { seed: 1, instructionId: "a", improvement: 2, sampling: "without-replacement" })).toBe(
      "only",
    );
    expect(() => pickAction([], { seed: 1, instructionId: "a", improvement: 0, sampling: "with-replacement" })).toThrow(
      /no actions/,
    );
  });
});
