import { describe, expect, it } from "vitest";
import type { CodecState } from "../../nodes/state.js";
import type { CodecConfigInput } from "../../lib/config.js";
import type { Seed } from "../../lib/records.js";
import {
  MERGED_IDS_LISTED,
  MIN_AUTO_SEED_SAMPLE,
  SeedSelector,
  normalizeSeedText,
  seedSampleSize,
  selectSeeds,
} from "../../lib/seed-sample.js";
import { createCodecGraph } from "../../graphs/codeclm.js";
import type { CodecConfig } from "../../lib/config.js";
import type { RunSummary } from "../../lib/summary.js";
import { prepare } from "../../nodes/prepare.js";
import { runtimeFor } from "../../nodes/runtime.js";
import { scriptedModels } from "../support/scripted-model.js";

const seedsOf = (count: number, prefix = "s"): Seed[] =>
  Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, instruction: `Seed number ${i}` }));

describe("seed sample size", () => {
  it("is the setting, else max(poolSize, the floor)", () => {
    expect(seedSampleSize(null, 200)).toBe(200);
    expect(seedSampleSize(undefined, 20)).toBe(MIN_AUTO_SEED_SAMPLE);
    expect(seedSampleSize(7, 200)).toBe(7);
    expect(seedSampleSize("all", 20)).toBe("all");
  });
});

describe("selectSeeds", () => {
  it("merges seeds identical once whitespace is normalised, keeping the first and recording the ids", () => {
    const seeds: Seed[] = [
      { id: "a", instruction: "Write a  poem\nabout rain." },
      { id: "b", instruction: "Explain tides." },
      { id: "c", instruction: "  Write a poem about rain. " },
      { id: "d", instruction: "write a poem about rain." },
      { id: "e", instruction: "Write a poem\tabout   rain." },
    ];
    expect(normalizeSeedText(seeds[0]!.instruction)).toBe("Write a poem about rain.");
    const { seeds: used, selection } = selectSeeds(seeds, { sampleSize: 50, seed: 1 });
    expect(used.map((seed) => seed.id)).toEqual(["a", "b", "d"]);
    expect(selection).toEqual({
      read: 5,
      unique: 3,
      duplicates: 2,
      sampleSize: 50,
      sampled: 3,
      merged: { a: ["c", "e"] },
      mergedNotListed: 0,
    });
  });

  it("10 copies of one seed plus 5 others: 6 seeds used", () => {
    const seeds = [
      ...Array.from({ length: 10 }, (_, i) => ({ id: `copy${i}`, instruction: "Summarise this article." })),
      ...seedsOf(5),
    ];
    const { seeds: used, selection } = selectSeeds(seeds, { sampleSize: "all", seed: 42 });
    expect(used).toHaveLength(6);
    expect(selection.merged).toEqual({ copy0: Array.from({ length: 9 }, (_, i) => `copy${i + 1}`) });
  });

  it("draws a seeded sample of the distinct seeds, in file order, the same for the same seed", () => {
    const seeds = seedsOf(20_000);
    const first = selectSeeds(seeds, { sampleSize: 50, seed: 42 });
    const again = selectSeeds(seeds, { sampleSize: 50, seed: 42 });
    const other = selectSeeds(seeds, { sampleSize: 50, seed: 43 });
    expect(first.seeds).toHaveLength(50);
    expect(first.selection).toMatchObject({ read: 20_000, unique: 20_000, sampled: 50, duplicates: 0 });
    expect(again.seeds).toEqual(first.seeds);
    expect(other.seeds).not.toEqual(first.seeds);
    const positions = first.seeds.map((seed) => Number(seed.id.slice(1)));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    // Spread over the whole file, not the first 50.
    expect(Math.max(...positions)).toBeGreaterThan(10_000);
    expect(Math.min(...positions)).toBeLessThan(10_000);
  });

  it("is uniform: every seed is about equally likely to be drawn", () => {
    const seeds = seedsOf(20);
    const hits = new Array<number>(20).fill(0);
    for (let run = 0; run < 2000; run++) {
      for (const seed of selectSeeds(seeds, { sampleSize: 5, seed: run }).seeds) hits[Number(seed.id.slice(1))]!++;
    }
    // Expected 500 each (2000 runs x 5/20).
    for (const count of hits) {
      expect(count).toBeGreaterThan(400);
      expect(count).toBeLessThan(600);
    }
  });

  it("streaming and array selection agree; a sample of a sample is the same sample", () => {
    const seeds = [...seedsOf(300), ...seedsOf(100).map((seed) => ({ ...seed, id: `dup-${seed.id}` }))];
    const selector = new SeedSelector({ sampleSize: 40, seed: 7 });
    for (const seed of seeds) selector.add(seed);
    const streamed = selector.result();
    expect(streamed).toEqual(selectSeeds(seeds, { sampleSize: 40, seed: 7 }));
    expect(selectSeeds(streamed.seeds, { sampleSize: 40, seed: 7 }).seeds).toEqual(streamed.seeds);
  });

  it("lists at most a bounded number of merged ids, counting the rest", () => {
    const seeds = Array.from({ length: MERGED_IDS_LISTED + 11 }, (_, i) => ({ id: `x${i}`, instruction: "same" }));
    const { selection } = selectSeeds(seeds, { sampleSize: 10, seed: 1 });
    expect(selection.merged.x0).toHaveLength(MERGED_IDS_LISTED);
    expect(selection.mergedNotListed).toBe(10);
    expect(selection.duplicates).toBe(MERGED_IDS_LISTED + 10);
  });
});

describe("prepare narrows the seeds before the encode fan-out", () => {
  const runnable = (context: CodecConfigInput) => runtimeFor(context);
  const state = (seeds: Seed[], extra: Partial<CodecState> = {}) => ({ seeds, ...extra }) as CodecState;

  it("samples to max(pool, 50) and records the selection", async () => {
    const update = await prepare(state(seedsOf(20_000)), runnable({ poolSize: 20, seed: 3 }));
    expect(update.seeds).toHaveLength(MIN_AUTO_SEED_SAMPLE);
    expect(update.seedSelection).toMatchObject({ read: 20_000, unique: 20_000, sampled: 50, sampleSize: 50 });
    expect(update.seeds).toEqual(selectSeeds(seedsOf(20_000), { sampleSize: 50, seed: 3 }).seeds);
  });

  it('seedSample "all" keeps every distinct seed', async () => {
    const update = await prepare(
      state([...seedsOf(80), { id: "again", instruction: "Seed number 3" }]),
      runnable({ seedSample: "all", poolSize: 20 }),
    );
    expect(update.seeds).toHaveLength(80);
    expect(update.seedSelection).toMatchObject({ read: 81, unique: 80, duplicates: 1, merged: { s3: ["again"] } });
  });

  it("keeps the counts of a reader that chose the seeds already", async () => {
    const chosen = selectSeeds(seedsOf(1000), { sampleSize: 50, seed: 42 });
    const update = await prepare(state(chosen.seeds, { seedSelection: chosen.selection }), runnable({ poolSize: 20 }));
    expect(update.seeds).toEqual(chosen.seeds);
    expect(update.seedSelection).toEqual(chosen.selection);
  });

  it("rejects a seed longer than maxSeedChars, naming it", async () => {
    const seeds = [...seedsOf(3), { id: "huge", instruction: "x".repeat(101) }];
    await expect(prepare(state(seeds), runnable({ maxSeedChars: 100 }))).rejects.toThrow(
      /Seed "huge" is 101 characters long, over maxSeedChars \(100\)/,
    );
  });
});

describe("the graph given seeds directly (library, Studio) encodes only the seeds used", () => {
  it("300 seeds with copies, pool 8: the sample of 50 is encoded, state.seeds is the sample, the summary records it", async () => {
    const seeds = [
      ...seedsOf(280),
      ...Array.from({ length: 20 }, (_, i) => ({ id: `copy${i}`, instruction: `Seed  number ${i}` })),
    ];
    const models = scriptedModels();
    const context = { size: 3, poolSize: 8, plausibilityCheck: false, seed: 5 } as unknown as CodecConfig;
    const out = (await createCodecGraph({ models }).invoke({ seeds }, { context })) as unknown as {
      seeds: Seed[];
      summary: RunSummary;
    };
    const sample = selectSeeds(seeds, { sampleSize: 50, seed: 5 });
    expect(out.seeds).toEqual(sample.seeds);
    expect(out.summary.calls.byStep.encode?.calls).toBe(50);
    expect(out.summary.seeds).toMatchObject({ read: 300, unique: 280, duplicates: 20, sampled: 50, encoded: 50 });
  }, 60_000);
});
