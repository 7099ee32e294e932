import { describe, expect, it } from "vitest";
import { leakageOf, leakageSummary, refuseOverlap } from "../../eval/leakage.js";
import type { RunData } from "../../io/run-data.js";
import { readSeeds } from "../../io/seeds.js";
import { benchmarkFile } from "../support/cli.js";

const vicuna = () => readSeeds(benchmarkFile("vicuna-80.jsonl"));
const runData = (split: RunData["split"], seeds: RunData["seeds"] = []): RunData => ({
  path: "data.jsonl",
  summaryPath: "data.summary.json",
  ...(split ? { split } : {}),
  seeds,
  kept: [{ id: "k1", instruction: "Write a limerick about a cat who learns to code." }],
});

describe("which benchmark items an evaluation with --data takes (eval/leakage.ts)", () => {
  it("a split of this benchmark: its seeds left out by id, the rest evaluated with no overlap", async () => {
    const items = await vicuna();
    const ids = items.slice(0, 16).map((item) => item.id);
    const check = leakageOf("vicuna", items, runData({ set: "vicuna", items: 80, fraction: 0.2, seed: 1, ids }));
    expect(check.excluded).toEqual(ids);
    expect(check.evaluated).toHaveLength(64);
    expect(check.overlaps).toEqual([]);
  });

  it("seeds from this whole benchmark (by name or by its file): every seed is an overlap by id, and refused", async () => {
    const items = await vicuna();
    const seeds = items.slice(0, 50);
    const split = {
      set: benchmarkFile("vicuna-80.jsonl"),
      items: 80,
      seed: 1,
      whole: true,
      ids: seeds.map((s) => s.id),
    };
    const data = runData(split, seeds);
    const check = leakageOf("vicuna", items, data);
    expect(check.excluded).toEqual([]);
    expect(check.overlaps).toHaveLength(50);
    expect(check.overlaps.every((overlap) => overlap.by === "seed-id")).toBe(true);
    const summary = leakageSummary(check, data, false);
    expect(() => refuseOverlap("vicuna", summary)).toThrow(
      /vicuna: 50 of 80 item\(s\) overlap the data in data\.jsonl \(50 are its seeds/,
    );
    expect(() => refuseOverlap("vicuna", leakageSummary(check, data, true))).not.toThrow();
  });

  it("a run that recorded no seeds is checked against its kept instructions, and says so", async () => {
    const items = await vicuna();
    const data = runData(undefined);
    const summary = leakageSummary(leakageOf("vicuna", items, data), data, false);
    expect(summary).toMatchObject({ excluded: 0, evaluated: 80, overlap: 0 });
    expect(summary.note).toMatch(/kept instructions only/);
  });
});
