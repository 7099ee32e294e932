import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readSeeds } from "../../io/seeds.js";
import { parseSplitSpec, seedCount, splitItems } from "../../lib/split.js";
import type { Seed } from "../../lib/records.js";
import { benchmarkFile, readJsonl, runCli } from "../support/cli.js";

const vicuna = () => readSeeds(benchmarkFile("vicuna-80.jsonl"));
const countBy = (items: readonly Seed[]) => {
  const counts: Record<string, number> = {};
  for (const item of items) counts[item.category ?? ""] = (counts[item.category ?? ""] ?? 0) + 1;
  return counts;
};

describe("splits of a set (lib/split.ts)", () => {
  it("parses a fraction or a count after the set, and nothing else", () => {
    expect(parseSplitSpec("vicuna:20%")).toEqual({ set: "vicuna", part: { fraction: 0.2 } });
    expect(parseSplitSpec("vicuna:16")).toEqual({ set: "vicuna", part: { count: 16 } });
    expect(parseSplitSpec("data/x.jsonl:12.5%")).toEqual({ set: "data/x.jsonl", part: { fraction: 0.125 } });
    expect(parseSplitSpec("vicuna")).toBeUndefined();
    expect(parseSplitSpec("seeds.jsonl")).toBeUndefined();
    expect(() => parseSplitSpec("vicuna:100%")).toThrow(/between 0% and 100%/);
    expect(() => parseSplitSpec("vicuna:0")).toThrow(/at least 1/);
  });

  it("takes 16 of Vicuna's 80 for 20%, the same 16 for the same seed, others for another seed", async () => {
    const items = await vicuna();
    const first = splitItems(items, { part: { fraction: 0.2 }, seed: 42 });
    const again = splitItems(items, { part: { fraction: 0.2 }, seed: 42 });
    const other = splitItems(items, { part: { fraction: 0.2 }, seed: 7 });
    expect(first.seeds).toHaveLength(16);
    expect(first.heldOut).toHaveLength(64);
    expect(again.seeds.map((s) => s.id)).toEqual(first.seeds.map((s) => s.id));
    expect(other.seeds.map((s) => s.id)).not.toEqual(first.seeds.map((s) => s.id));
    const ids = new Set(first.seeds.map((s) => s.id));
    expect(first.heldOut.some((item) => ids.has(item.id))).toBe(false);
    // Both parts keep the set's order.
    const order = items.map((item) => item.id);
    const positions = first.heldOut.map((item) => order.indexOf(item.id));
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it("stratifies by category: each category gives its share (largest remainder)", async () => {
    const items = await vicuna();
    const sizes = countBy(items);
    const { seeds } = splitItems(items, { part: { fraction: 0.2 }, seed: 3 });
    const taken = countBy(seeds);
    // 10-item categories give 2; coding (7 -> 1.4) gives 1, math (3 -> 0.6) gives 1.
    for (const [category, size] of Object.entries(sizes)) {
      expect(taken[category] ?? 0, category).toBe(size === 10 ? 2 : 1);
    }
    const byCount = splitItems(items, { part: { count: 9 }, seed: 3 });
    expect(Object.keys(countBy(byCount.seeds))).toHaveLength(9);
  });

  it("splits a set without categories and refuses impossible parts", () => {
    const items = Array.from({ length: 10 }, (_, i) => ({ id: `q${i}`, instruction: `question ${i}` }));
    expect(splitItems(items, { part: { count: 3 }, seed: 1 }).seeds).toHaveLength(3);
    expect(seedCount({ fraction: 0.01 }, 10)).toBe(1);
    expect(() => seedCount({ count: 10 }, 10)).toThrow(/held out/);
    expect(() => splitItems([...items, items[0]!], { part: { count: 2 }, seed: 1 })).toThrow(/two items with the id/);
  });
});

describe("codeclm split (CLI)", () => {
  it("writes seeds.jsonl, held-out.jsonl and split.json, and refuses to overwrite them without --force", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "codeclm-split-")), "vicuna");
    const args = ["split", "vicuna", "--fraction", "0.2", "--seed", "42", "--out", out];
    const first = await runCli(args, {});
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const seeds = (await readJsonl(join(out, "seeds.jsonl"))) as Array<{ id: string; category: string }>;
    const heldOut = (await readJsonl(join(out, "held-out.jsonl"))) as Array<{ id: string }>;
    expect(seeds).toHaveLength(16);
    expect(heldOut).toHaveLength(64);
    // The same split as --seeds vicuna:20% --seed 42 takes.
    const expected = splitItems(await vicuna(), { part: { fraction: 0.2 }, seed: 42 });
    expect(seeds.map((item) => item.id)).toEqual(expected.seeds.map((item) => item.id));
    expect(JSON.parse(await readFile(join(out, "split.json"), "utf8"))).toMatchObject({ set: "vicuna", seed: 42 });
    const again = await runCli(args, {});
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists");
    expect((await runCli([...args, "--force"], {})).code).toBe(0);
    const both = await runCli(["split", "vicuna", "--fraction", "0.2", "--count", "3", "--out", out, "--force"], {});
    expect(both.code).toBe(2);
  }, 60_000);
});
