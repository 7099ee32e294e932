import { describe, expect, it } from "vitest";
import { checkLeakage, overlapThreshold } from "../../lib/contamination.js";

const bench = [
  { id: "1", instruction: "How many grains of sand are on a beach? Explain your reasoning step by step." },
  { id: "2", instruction: "Write a poem about the sea at night." },
  { id: "3", instruction: "What are the causes of inflation in a modern economy?" },
  { id: "4", instruction: "Describe a day in the life of a medieval blacksmith." },
];
const base = { benchmark: bench, seedIds: [], seeds: [], kept: [], threshold: 0.7 } as const;

describe("overlap between a benchmark and the data (lib/contamination.ts)", () => {
  it("leaves out the seeds of a split of this set, and evaluates the rest", () => {
    const check = checkLeakage({ ...base, seedsFrom: "split-of-this-set", seedIds: ["2"], seeds: [bench[1]!] });
    expect(check.excluded).toEqual(["2"]);
    expect(check.evaluated.map((item) => item.id)).toEqual(["1", "3", "4"]);
    expect(check.overlaps).toEqual([]);
  });

  it("counts items with a seed's id as overlaps when the seeds were this whole set", () => {
    const check = checkLeakage({ ...base, seedsFrom: "this-set", seedIds: ["1", "3"], seeds: [bench[0]!, bench[2]!] });
    expect(check.excluded).toEqual([]);
    expect(check.overlaps.map((overlap) => [overlap.id, overlap.by])).toEqual([
      ["1", "seed-id"],
      ["3", "seed-id"],
    ]);
  });

  it("finds near-repeats of another set's seeds and of kept instructions by ROUGE-L above the threshold", () => {
    const check = checkLeakage({
      ...base,
      seedsFrom: "other-set",
      seedIds: ["s1"],
      seeds: [
        {
          id: "s1",
          instruction: "How many grains of sand are on a beach? Explain your reasoning step by step please.",
        },
      ],
      kept: [
        { id: "k1", instruction: "Write a poem about the sea at night, in rhyme." },
        { id: "k2", instruction: "List three medieval trades." },
      ],
    });
    expect(check.evaluated).toHaveLength(4);
    expect(check.overlaps).toHaveLength(2);
    expect(check.overlaps[0]).toMatchObject({ id: "1", by: "seed", of: "s1" });
    expect(check.overlaps[0]!.similarity).toBeGreaterThan(0.7);
    expect(check.overlaps[1]).toMatchObject({ id: "2", by: "kept", of: "k1" });
    // A stricter threshold lets the looser repeat through.
    const strict = checkLeakage({
      ...base,
      seedsFrom: "other-set",
      kept: [{ id: "k1", instruction: "Write a poem about the sea at night, in rhyme." }],
      threshold: 0.9,
    });
    expect(strict.overlaps).toEqual([]);
  });

  it("uses the run's threshold, or 0.7 when its filter was off", () => {
    expect(overlapThreshold(0.5)).toBe(0.5);
    expect(overlapThreshold(1)).toBe(0.7);
    expect(overlapThreshold(undefined)).toBe(0.7);
  });
});
