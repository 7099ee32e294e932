import { describe, expect, it } from "vitest";
import { poolMakeup } from "../../lib/pool.js";
import type { PoolEntry } from "../../lib/records.js";
import { instructionSamples, reviewedStats } from "../../lib/review.js";
import type { InstructionTask } from "../../lib/tasks.js";

const entry = (id: string, origin: PoolEntry["origin"], skills = ["x"]): PoolEntry => ({
  id,
  origin,
  seedIds: [],
  useCase: `use ${id}`,
  skills,
});

describe("reviewedStats", () => {
  it("counts the reviewed pool by origin and skills; a cut pool is not reported as mix-and-match left short", () => {
    const before = {
      seedsEncoded: 20,
      seedMetadata: 20,
      augmented: 10,
      checked: 12,
      checkFailed: 9,
      requested: 30,
      size: 30,
      "skills:1": 30,
    };
    const stats = reviewedStats(before, {
      pool: [entry("m0", "seed"), entry("m4", "augmented", ["x", "y"]), entry("m1", "user")],
      added: 1,
    });
    expect(stats).toMatchObject({
      seedMetadata: 1,
      augmented: 1,
      user: 0,
      reviewedFrom: 30,
      reviewedAdded: 1,
      size: 3,
      requested: 3,
    });
    expect(stats["skills:1"]).toBe(2);
    expect(stats["skills:2"]).toBe(1);
    const makeup = poolMakeup(stats, 0.5);
    expect(makeup.mixAndMatch).toBe("on");
    expect(makeup.warning).toBeUndefined();
  });
});

describe("instructionSamples", () => {
  it("takes up to N basic instructions per metadata, in first-decoded order", () => {
    const task = (metadataId: string, basicInstruction: string) =>
      ({ metadataId, basicInstruction, metadata: { useCase: `u-${metadataId}`, skills: ["s"] } }) as InstructionTask;
    const samples = instructionSamples([task("m1", "a"), task("m0", "b"), task("m1", "c"), task("m1", "d")], 2);
    expect(samples).toEqual([
      { metadataId: "m1", useCase: "u-m1", skills: ["s"], instructions: ["a", "c"] },
      { metadataId: "m0", useCase: "u-m0", skills: ["s"], instructions: ["b"] },
    ]);
  });
});
