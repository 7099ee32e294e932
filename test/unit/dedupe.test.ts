import { describe, expect, it } from "vitest";
import {
  type DedupeItem,
  NearDuplicateIndex,
  findNearDuplicates,
  lcsLength,
  rougeL,
  rougeLText,
  tokenize,
} from "../../lib/dedupe.js";
import { HAND_COMPUTED_ROUGE_L, oracleRougeL, oracleTokens } from "../support/rouge-oracle.js";
import { syntheticInstructions } from "../support/synthetic-instructions.js";

/** The definition: every item against every earlier surviving one, with the test's own tokenizer and ROUGE-L. */
function bruteForce(items: readonly DedupeItem[], threshold: number) {
  const kept: Array<{ id: string; text: string }> = [];
  const out: Array<{ id: string; of: string; similarity: number }> = [];
  for (const item of items) {
    const tokens = oracleTokens(item.text);
    let match: { of: string; similarity: number } | undefined;
    if (tokens.length > 0) {
      for (const other of kept) {
        const similarity = oracleRougeL(item.text, other.text);
        if (similarity > threshold) {
          match = { of: other.id, similarity };
          break;
        }
      }
    }
    if (match && !item.reference) out.push({ id: item.id, ...match });
    else if (tokens.length > 0) kept.push({ id: item.id, text: item.text });
  }
  return out;
}

describe("ROUGE-L", () => {
  it("tokenizes like rouge_score (lower case, letters and digits), CJK per character", () => {
    expect(tokenize("Write a 500-word Essay, please!")).toEqual(["write", "a", "500", "word", "essay", "please"]);
    expect(tokenize("写一首诗 about cats")).toEqual(["写", "一", "首", "诗", "about", "cats"]);
    expect(tokenize("...")).toEqual([]);
  });

  it.each(HAND_COMPUTED_ROUGE_L)("%s ~ %s = %d, as computed by hand", (a, b, expected) => {
    expect(rougeLText(a, b)).toBeCloseTo(expected, 12);
  });

  it("computes the LCS and the F-measure", () => {
    expect(lcsLength([..."ABCBDAB"], [..."BDCABA"])).toBe(4);
    expect(lcsLength([], ["a"])).toBe(0);
    expect(rougeL(["a", "b", "c"], ["a", "b", "c"])).toBe(1);
    expect(rougeL(["a", "b"], ["c", "d"])).toBe(0);
    // LCS 3 ("the cat sat"), lengths 4 and 5: 2*3/9.
    expect(rougeLText("the cat sat down", "the black cat sat still")).toBeCloseTo(6 / 9);
    expect(rougeL([], [])).toBe(0);
  });
});

describe("findNearDuplicates", () => {
  it("drops a near-repeat of an earlier instruction, keeps the first, and says which it repeats", () => {
    const items = [
      { id: "a", text: "Write a short poem about the sea at night" },
      { id: "b", text: "Explain how a hash map handles collisions" },
      { id: "c", text: "Write a short poem about the sea at dawn" },
      { id: "d", text: "write a SHORT poem, about the sea at night!" },
    ];
    const found = findNearDuplicates(items, 0.7);
    expect(found.map((item) => [item.id, item.of])).toEqual([
      ["c", "a"],
      ["d", "a"],
    ]);
    expect(found[1]!.similarity).toBe(1);
    expect(found[0]!.similarity).toBeCloseTo(16 / 18);
  });

  it("compares against references but never drops them; a dropped item is not compared against later", () => {
    const items = [
      { id: "seed", text: "Give three tips for saving money on groceries", reference: true },
      { id: "x", text: "Give three tips for saving money on groceries this week" },
      { id: "seed2", text: "Give three tips for saving money on groceries today", reference: true },
    ];
    expect(findNearDuplicates(items, 0.7).map((item) => [item.id, item.of])).toEqual([["x", "seed"]]);
  });

  it("respects the threshold: strictly above drops; 1 (or more) turns the filter off", () => {
    const items = [
      { id: "a", text: "a b c d" },
      { id: "b", text: "a b c e" }, // 0.75
    ];
    expect(findNearDuplicates(items, 0.7)).toHaveLength(1);
    expect(findNearDuplicates(items, 0.75)).toHaveLength(0);
    expect(findNearDuplicates([...items, { id: "c", text: "a b c d" }], 1)).toEqual([]);
    expect(
      findNearDuplicates(
        [
          { id: "e", text: "" },
          { id: "f", text: "!!" },
        ],
        0,
      ),
    ).toEqual([]);
  });

  it("gives exactly what comparing every pair gives, at several thresholds", () => {
    const texts = syntheticInstructions(600, { seed: 5, duplicateRate: 0.2, vocabulary: 400 });
    const items = texts.map((text, index) => ({ id: `i${index}`, text, reference: index % 17 === 0 }));
    for (const threshold of [0.3, 0.5, 0.7, 0.9]) {
      const fast = findNearDuplicates(items, threshold);
      const slow = bruteForce(items, threshold);
      expect(fast.map((item) => item.id)).toEqual(slow.map((item) => item.id));
      expect(fast.length).toBeGreaterThan(0);
    }
  });

  it("handles 10,000 instructions in well under the time of one model call per instruction", () => {
    const texts = syntheticInstructions(10_000, { seed: 9, duplicateRate: 0.1 });
    const started = performance.now();
    const found = findNearDuplicates(
      texts.map((text, index) => ({ id: String(index), text })),
      0.7,
    );
    const elapsed = performance.now() - started;
    expect(found.length).toBeGreaterThan(500);
    expect(elapsed).toBeLessThan(10_000);
  });
});

describe("NearDuplicateIndex (a run's instructions, one at a time)", () => {
  const sea = "Write a short poem about the sea at night for a child";

  it("finds the earliest entry a text nearly repeats, by id, and can ignore one entry", () => {
    const index = new NearDuplicateIndex(0.7);
    index.add("seed:1", sea);
    expect(index.addUnlessDuplicate("m1-r1-0", "Explain how a hash map handles collisions in Python")).toBeUndefined();
    expect(
      index.addUnlessDuplicate("m2-r2-0", "write a short poem about the sea at night for a child, please"),
    ).toMatchObject({ id: "m2-r2-0", of: "seed:1" });
    expect(index.has("m2-r2-0")).toBe(false); // a near-duplicate is not compared with later
    expect(index.find("Explain how a hash map handles collisions in Python!")).toMatchObject({
      of: "m1-r1-0",
      similarity: 1,
    });
    // An improved instruction is no repeat of its own basic one.
    expect(index.find("Explain how a hash map handles collisions in Python", "m1-r1-0")).toBeUndefined();
    expect(index.size).toBe(2);
  });

  it("a known id is not a repeat of itself (a resumed run meets instructions it already holds)", () => {
    const index = new NearDuplicateIndex(0.7);
    index.add("m1-r1-0", sea);
    expect(index.addUnlessDuplicate("m1-r1-0", sea)).toBeUndefined();
    expect(index.size).toBe(1);
  });

  it("a threshold of 1 stores nothing and finds nothing", () => {
    const index = new NearDuplicateIndex(1);
    index.add("a", sea);
    expect(index.addUnlessDuplicate("b", sea)).toBeUndefined();
    expect(index.size).toBe(0);
  });

  it("one at a time gives what comparing every pair gives, whatever the order the tokens became common in", () => {
    const texts = syntheticInstructions(800, { seed: 13, duplicateRate: 0.25, vocabulary: 300 });
    const items = texts.map((text, index) => ({ id: `i${index}`, text, reference: index % 11 === 0 }));
    const index = new NearDuplicateIndex(0.7);
    const found: string[] = [];
    for (const item of items) {
      if (item.reference) index.add(item.id, item.text);
      else if (index.addUnlessDuplicate(item.id, item.text)) found.push(item.id);
    }
    expect(found).toEqual(bruteForce(items, 0.7).map((item) => item.id));
    expect(found.length).toBeGreaterThan(50);
  });
});
