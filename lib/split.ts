/**
 * The paper's protocol (§5.1): the seeds are a split of a benchmark (20%) and the tuned model is evaluated
 * on the rest. A split is a seeded sample, stratified by category when the set has one, so that the seeds
 * cover the set's categories in proportion; both parts keep the set's order.
 *
 * Pure: the same items, part and seed give the same split.
 */
import { z } from "zod";
import type { Seed } from "./records.js";
import { createRng, shuffle } from "./rng.js";

/** How much of the set becomes seeds: a fraction in (0, 1), or a count of items. */
export type SplitPart = { fraction: number } | { count: number };

export const SeedSplitSchema = z.object({
  set: z.string().describe("The set the seeds came from: a built-in name or the file given"),
  file: z.string().optional().describe("That set's file, as an absolute path"),
  items: z.number().describe("Items in the set"),
  fraction: z.number().optional().describe("Share of the set taken as seeds (when given as a fraction)"),
  count: z.number().optional().describe("Items taken as seeds (when given as a count)"),
  seed: z.number().describe("The random seed of the split (the run's --seed)"),
  ids: z.array(z.string()).describe("Ids of the items taken as seeds, in the set's order"),
  whole: z.boolean().optional().describe("The seeds were drawn from the whole set, not a split: nothing was held out"),
});
export type SeedSplit = z.infer<typeof SeedSplitSchema>;

/** `vicuna:20%`, `vicuna:16`, `file.jsonl:0.2%`: the set and the part, or undefined when `spec` has no part. */
export function parseSplitSpec(spec: string): { set: string; part: SplitPart } | undefined {
  const match = /^(.+):(\d+(?:\.\d+)?)(%?)$/.exec(spec);
  if (!match) return undefined;
  const [, set, number, percent] = match as unknown as [string, string, string, string];
  const value = Number(number);
  if (percent) {
    if (!(value > 0 && value < 100)) throw new Error(`${spec}: the share of seeds must be between 0% and 100%`);
    return { set, part: { fraction: value / 100 } };
  }
  if (!Number.isInteger(value) || value < 1) throw new Error(`${spec}: the number of seeds must be at least 1`);
  return { set, part: { count: value } };
}

/** How many items the part takes from a set of `total`: at least 1, and at least 1 item is held out. */
export function seedCount(part: SplitPart, total: number): number {
  if (total < 2) throw new Error(`a set of ${total} item(s) cannot be split into seeds and held-out items`);
  const wanted = "count" in part ? part.count : Math.round(part.fraction * total);
  if ("count" in part && wanted >= total) {
    throw new Error(`asked for ${wanted} seeds from a set of ${total}: at least one item must be held out`);
  }
  return Math.min(total - 1, Math.max(1, wanted));
}

/** Seeds per category in proportion to its size (largest remainder; ties to the category seen first). */
function allocate(sizes: ReadonlyArray<readonly [string, number]>, total: number, wanted: number): Map<string, number> {
  const exact = sizes.map(([category, size]) => ({ category, quota: (size * wanted) / total, size }));
  const taken = new Map(exact.map(({ category, quota }) => [category, Math.floor(quota)]));
  let left = wanted - [...taken.values()].reduce((sum, n) => sum + n, 0);
  const byRemainder = exact
    .map((entry, order) => ({ ...entry, order, remainder: entry.quota - Math.floor(entry.quota) }))
    .sort((a, b) => b.remainder - a.remainder || a.order - b.order);
  for (const { category, size } of byRemainder) {
    if (left === 0) break;
    if (taken.get(category)! < size) {
      taken.set(category, taken.get(category)! + 1);
      left--;
    }
  }
  return taken;
}

/** The items grouped by category (one group when the set has none), in order of first appearance. */
function byCategory(items: readonly Seed[]): Map<string, Seed[]> {
  const groups = new Map<string, Seed[]>();
  for (const item of items) {
    const key = item.category ?? "";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(item);
  }
  return groups;
}

/** Split `items` into seeds and held-out items: a seeded sample stratified by category, both in set order. */
export function splitItems(
  items: readonly Seed[],
  options: { part: SplitPart; seed: number },
): { seeds: Seed[]; heldOut: Seed[] } {
  const ids = new Set<string>();
  for (const item of items) {
    if (ids.has(item.id)) throw new Error(`the set has two items with the id "${item.id}": a split needs unique ids`);
    ids.add(item.id);
  }
  const wanted = seedCount(options.part, items.length);
  const groups = byCategory(items);
  const quotas = allocate(
    [...groups].map(([category, group]) => [category, group.length] as const),
    items.length,
    wanted,
  );
  const chosen = new Set<string>();
  for (const [category, group] of groups) {
    const rng = createRng(options.seed, "split", category);
    for (const item of shuffle(rng, group).slice(0, quotas.get(category))) chosen.add(item.id);
  }
  return {
    seeds: items.filter((item) => chosen.has(item.id)),
    heldOut: items.filter((item) => !chosen.has(item.id)),
  };
}

/** The record of a split, for the run's summary. */
export function splitRecord(
  source: { set: string; file: string; items: number },
  part: SplitPart,
  seed: number,
  seeds: readonly Seed[],
): SeedSplit {
  return { ...source, ...part, seed, ids: seeds.map((item) => item.id) };
}
