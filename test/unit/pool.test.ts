import { describe, expect, it } from "vitest";
import {
  candidatesToCheck,
  type EncodedSeed,
  metadataKey,
  mixAndMatch,
  mixSource,
  normalizeMetadata,
  numberPool,
  seedEntries,
} from "../../lib/pool.js";
import { createRng } from "../../lib/rng.js";

const ENCODED: EncodedSeed[] = [
  { seedId: "s0", useCase: "creative writing", skills: ["storytelling", "child development"] },
  { seedId: "s1", useCase: "code generation", skills: ["python", "algorithms", "testing"] },
  { seedId: "s2", useCase: "creative writing", skills: ["poetry", "storytelling"] },
  { seedId: "s3", useCase: "financial advice", skills: ["personal finance", "retirement planning"] },
  { seedId: "s4", useCase: "creative writing", skills: ["humor"] },
];

describe("normalizeMetadata", () => {
  it("trims and collapses whitespace in the use case and skills", () => {
    expect(normalizeMetadata({ useCase: "  code \n generation ", skills: [" python\t3 ", "sql"] }, 3)).toEqual({
      useCase: "code generation",
      skills: ["python 3", "sql"],
    });
  });

  it("drops empty and case-insensitively repeated skills, keeping the first spelling", () => {
    expect(normalizeMetadata({ useCase: "qa", skills: ["SQL", "", "  ", "sql", "Sql ", "history"] }, 3)).toEqual({
      useCase: "qa",
      skills: ["SQL", "history"],
    });
  });

  it("keeps at most skillsMax skills, counted after de-duplication", () => {
    const out = normalizeMetadata({ useCase: "qa", skills: ["a", "A", "b", "c", "d", "e"] }, 3);
    expect(out.skills).toEqual(["a", "b", "c"]);
    expect(normalizeMetadata({ useCase: "qa", skills: ["a", "b"] }, 1).skills).toEqual(["a"]);
  });
});

describe("metadataKey", () => {
  it("ignores letter case and skill order", () => {
    expect(metadataKey({ useCase: "Code Generation", skills: ["Python", "algorithms"] })).toBe(
      metadataKey({ useCase: "code generation", skills: ["ALGORITHMS", "python"] }),
    );
  });

  it("tells different metadata apart", () => {
    expect(metadataKey({ useCase: "qa", skills: ["a"] })).not.toBe(metadataKey({ useCase: "qa", skills: ["a", "b"] }));
    expect(metadataKey({ useCase: "qa", skills: ["a"] })).not.toBe(metadataKey({ useCase: "qb", skills: ["a"] }));
  });
});

describe("seedEntries", () => {
  it("merges identical metadata and pools their seed ids, in first-seen order", () => {
    const entries = seedEntries(
      [
        { seedId: "a", useCase: "QA", skills: ["history", "dates"] },
        { seedId: "b", useCase: "code", skills: ["python"] },
        { seedId: "c", useCase: "qa", skills: ["Dates", "History"] },
      ],
      3,
    );
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({
      origin: "seed",
      seedIds: ["a", "c"],
      useCase: "QA",
      skills: ["history", "dates"],
    });
    expect(entries[1]).toMatchObject({ origin: "seed", seedIds: ["b"] });
  });

  it("skips metadata without a use case or skills", () => {
    expect(
      seedEntries(
        [
          { seedId: "a", useCase: " ", skills: ["x"] },
          { seedId: "b", useCase: "qa", skills: [" "] },
        ],
        3,
      ),
    ).toEqual([]);
  });
});

describe("mixSource", () => {
  it("keeps one use case per seed (frequencies preserved) and the union of skills with their seeds", () => {
    const source = mixSource(ENCODED, 3);
    expect(source.useCases.map((u) => u.useCase)).toEqual([
      "creative writing",
      "code generation",
      "creative writing",
      "financial advice",
      "creative writing",
    ]);
    expect(source.skills.size).toBe(9);
    expect(source.skills.get("storytelling")).toEqual({ skill: "storytelling", seedIds: ["s0", "s2"] });
  });

  it("is empty for no seeds", () => {
    const source = mixSource([], 3);
    expect(source.useCases).toEqual([]);
    expect(source.skills.size).toBe(0);
  });
});

describe("mixAndMatch", () => {
  const source = mixSource(ENCODED, 3);
  const seedUseCases = new Set(ENCODED.map((e) => e.useCase));
  const allSkills = new Set(ENCODED.flatMap((e) => e.skills));

  it("samples use cases from the seeds and 1..skillsMax distinct skills from the union", () => {
    for (const skillsMax of [1, 2, 3]) {
      const out = mixAndMatch(source, { count: 30, skillsMax, rng: createRng(7, "t", skillsMax), taken: new Set() });
      expect(out.length).toBeGreaterThan(0);
      for (const entry of out) {
        expect(entry.origin).toBe("augmented");
        expect(seedUseCases.has(entry.useCase)).toBe(true);
        expect(entry.skills.length).toBeGreaterThanOrEqual(1);
        expect(entry.skills.length).toBeLessThanOrEqual(skillsMax);
        expect(new Set(entry.skills).size).toBe(entry.skills.length);
        for (const skill of entry.skills) expect(allSkills.has(skill)).toBe(true);
        expect(entry.seedIds.length).toBeGreaterThan(0);
      }
    }
  });

  it("records the seeds whose use case and skills were used", () => {
    const out = mixAndMatch(source, { count: 20, skillsMax: 3, rng: createRng(3), taken: new Set() });
    for (const entry of out) {
      const useCaseSeeds = ENCODED.filter((e) => e.useCase === entry.useCase).map((e) => e.seedId);
      expect(entry.seedIds.some((id) => useCaseSeeds.includes(id))).toBe(true);
      for (const skill of entry.skills) {
        const skillSeeds = ENCODED.filter((e) => e.skills.includes(skill)).map((e) => e.seedId);
        expect(entry.seedIds.some((id) => skillSeeds.includes(id))).toBe(true);
      }
    }
  });

  it("never repeats a taken key nor one of its own", () => {
    const taken = new Set(seedEntries(ENCODED, 3).map(metadataKey));
    const out = mixAndMatch(source, { count: 60, skillsMax: 3, rng: createRng(11), taken });
    const keys = out.map(metadataKey);
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) expect(taken.has(key)).toBe(false);
    // the caller's set is not mutated
    expect(taken.size).toBe(seedEntries(ENCODED, 3).length);
  });

  it("returns fewer than asked when the space is exhausted", () => {
    const tiny = mixSource([{ seedId: "a", useCase: "qa", skills: ["x", "y"] }], 3);
    // possible: {x}, {y}, {x,y} with one use case
    const out = mixAndMatch(tiny, { count: 10, skillsMax: 3, rng: createRng(1), taken: new Set() });
    expect(out.map(metadataKey).sort()).toEqual(["qa|x", "qa|x|y", "qa|y"]);
  });

  it("is deterministic for a seed and differs across seeds", () => {
    const run = (seed: number) =>
      mixAndMatch(source, { count: 15, skillsMax: 3, rng: createRng(seed, "pool"), taken: new Set() }).map(metadataKey);
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });

  it("returns nothing for empty sources or a zero count", () => {
    const rng = createRng(1);
    expect(mixAndMatch(mixSource([], 3), { count: 5, skillsMax: 3, rng, taken: new Set() })).toEqual([]);
    expect(
      mixAndMatch(
        { useCases: [{ useCase: "qa", seedId: "a" }], skills: new Map() },
        { count: 5, skillsMax: 3, rng, taken: new Set() },
      ),
    ).toEqual([]);
    expect(mixAndMatch(source, { count: 0, skillsMax: 3, rng, taken: new Set() })).toEqual([]);
  });
});

describe("numberPool", () => {
  it("numbers entries m0, m1, … in order without mutating them", () => {
    const entries = seedEntries(ENCODED, 3);
    const numbered = numberPool(entries);
    expect(numbered.map((e) => e.id)).toEqual(entries.map((_, i) => `m${i}`));
    expect(entries.every((e) => e.id === "")).toBe(true);
  });
});

describe("candidatesToCheck", () => {
  it("checks a tenth more than needed, rounded up to whole batches; exactly as many with no spare", () => {
    expect(candidatesToCheck(52, 10, 0.1)).toBe(60);
    expect(candidatesToCheck(50, 10, 0.1)).toBe(60);
    expect(candidatesToCheck(3, 10, 0.1)).toBe(10);
    expect(candidatesToCheck(53, 10, 0)).toBe(53);
    expect(candidatesToCheck(0, 10, 0.1)).toBe(0);
  });
});
