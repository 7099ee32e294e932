import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../io/input-error.js";
import { readMetadata, readPoolFile } from "../../io/metadata.js";
import { poolFileLine } from "../../lib/review.js";
import type { PoolEntry } from "../../lib/records.js";

const entry = (id: string, useCase: string, skills: string[], origin: PoolEntry["origin"] = "seed"): PoolEntry => ({
  id,
  origin,
  seedIds: ["s1"],
  useCase,
  skills,
});

async function poolFile(lines: string[]): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), "codeclm-pool-")), "data.pool.jsonl");
  await writeFile(path, `${lines.join("\n")}\n`);
  return path;
}

describe("the pool file of a review", () => {
  const written = [entry("m0", "qa", ["x"]), entry("m3", "code", ["y", "z"], "augmented")].map(poolFileLine);

  it("keeps ids, origins and seeds of reviewed lines; a line without an id is new (the first free m<N>)", async () => {
    const path = await poolFile([...written, JSON.stringify({ useCase: "tax forms", skills: ["plain language"] })]);
    const { pool, added } = await readPoolFile(path, 3);
    expect(added).toBe(1);
    expect(pool).toEqual([
      entry("m0", "qa", ["x"]),
      entry("m3", "code", ["y", "z"], "augmented"),
      { id: "m1", origin: "user", seedIds: [], useCase: "tax forms", skills: ["plain language"] },
    ]);
  });

  it("says file:line for a malformed line, a repeated id or metadata, a bad origin; an empty file is an error", async () => {
    const cases: Array<[string[], RegExp]> = [
      [[written[0]!, '{"id": "m1", "useCase": "x"}'], /:2: no "skills" field/],
      [[written[0]!, written[0]!.replace('"qa"', '"other"')], /:2: id "m0" is used twice/],
      [[written[0]!, JSON.stringify({ useCase: "QA", skills: ["X"] })], /:2: the same use case and skills as line 1/],
      [[JSON.stringify({ useCase: "a", skills: ["b"], origin: "invented" })], /:1: "origin" must be one of/],
      [[written[0]!, "{not json"], /:2:/],
      [[""], /empty/],
    ];
    for (const [lines, message] of cases) {
      const path = await poolFile(lines);
      const error = await readPoolFile(path, 3).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InputError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message.startsWith(path)).toBe(true);
    }
  });

  it("is read by --metadata as user-written metadata", async () => {
    const path = await poolFile(written);
    expect(await readMetadata(path, { skillsMax: 3 })).toEqual([
      { useCase: "qa", skills: ["x"] },
      { useCase: "code", skills: ["y", "z"] },
    ]);
  });
});
