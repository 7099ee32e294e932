import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readSeeds } from "../../io/seeds.js";

describe("the quick start's bundled seeds", () => {
  it("read cleanly: 20 distinct instructions with ids", async () => {
    const seeds = await readSeeds(fileURLToPath(new URL("../../examples/seeds.jsonl", import.meta.url)));
    expect(seeds).toHaveLength(20);
    expect(new Set(seeds.map((seed) => seed.id)).size).toBe(20);
    expect(new Set(seeds.map((seed) => seed.instruction)).size).toBe(20);
  });
});
