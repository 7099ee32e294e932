import { createHash } from "node:crypto";
import { copyFile, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BENCHMARKS, BENCHMARK_NAMES, benchmarksDir, resolveBenchmark, testSetWarning } from "../../io/benchmarks.js";
import { InputError } from "../../io/input-error.js";
import { readSeeds } from "../../io/seeds.js";

/** Git's blob hash of the upstream files (`git hash-object`): the shipped copies are byte-identical. */
const UPSTREAM_BLOBS: Record<string, string> = {
  "vicuna-80.jsonl": "223642384936578e66cf127936251dda6a51d595",
  "mt-bench-80.jsonl": "464e2c22f7a021a0f9a584d232338a9a17c40066",
  "koala-180.jsonl": "183e2a33efb9b28e54149c40d6dbbed1a3ce7f6a",
  "self-instruct-user-252.jsonl": "ed6d5d986e3f4c65ff64d70328a2e1dab146f914",
  "self-instruct-seed-175.jsonl": "c97d40d76abd45cd7456f2d0d58459bb4df3cad5",
  "evol-instruct-218.jsonl": "741c0b23c5e16bef0ed7babfafe5781034cbfd83",
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "codeclm-benchmarks-"));
});

describe("built-in evaluation sets", () => {
  it.each(BENCHMARK_NAMES)(
    "%s resolves to its file in the package, with its item count, byte-identical to upstream",
    async (name) => {
      const path = resolveBenchmark(name, BENCHMARK_NAMES);
      expect(path.startsWith(benchmarksDir())).toBe(true);
      expect(await readSeeds(path)).toHaveLength(BENCHMARKS[name].items);
      const bytes = await readFile(path);
      const blob = createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
      expect(blob).toBe(UPSTREAM_BLOBS[BENCHMARKS[name].file]);
    },
  );

  it("the package's data README gives every set's source and licence", async () => {
    const readme = await readFile(join(benchmarksDir(), "README.md"), "utf8");
    for (const info of Object.values(BENCHMARKS)) expect(readme).toContain(info.file);
    for (const text of [
      "Apache-2.0",
      "CC BY-NC 4.0",
      "not be used for training",
      "FastChat",
      "koala-test-set",
      "self-instruct",
      "WizardLM",
    ]) {
      expect(readme).toContain(text);
    }
    expect(readme).not.toContain("shared");
  });

  it("a path still works, and an existing file wins over a name; an unknown bare word lists the names", async () => {
    const own = join(dir, "mine.jsonl");
    await writeFile(own, '{"instruction": "Say hi"}\n');
    expect(resolveBenchmark(own)).toBe(own);
    expect(resolveBenchmark(join(dir, "missing.jsonl"))).toBe(join(dir, "missing.jsonl"));
    expect(() => resolveBenchmark("vicunaa")).toThrow(InputError);
    expect(() => resolveBenchmark("vicunaa")).toThrow(
      /not a built-in set \(vicuna, koala, self-instruct, evol-instruct, mt-bench\)/,
    );
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      await writeFile(join(dir, "koala"), "my own koala questions\n");
      expect(resolveBenchmark("koala")).toBe("koala");
    } finally {
      process.chdir(cwd);
    }
  });
});

describe("a warning when seeds come from a test set", () => {
  it("by name and by path, naming the restriction", async () => {
    for (const name of ["koala", "self-instruct", "evol-instruct", "vicuna"] as const) {
      const path = resolveBenchmark(name);
      const warning = await testSetWarning(name, path, await readSeeds(path));
      expect(warning).toContain(`the ${BENCHMARKS[name].title} test set`);
      expect(await testSetWarning(path, path, [])).toContain(BENCHMARKS[name].title);
    }
    expect(await testSetWarning("koala", resolveBenchmark("koala"), [])).toContain("evaluation only");
    expect(await testSetWarning("evol-instruct", resolveBenchmark("evol-instruct"), [])).toContain("CC BY-NC 4.0");
    const copy = join(dir, "renamed.jsonl");
    await copyFile(resolveBenchmark("evol-instruct"), copy);
    // A copy under another name is caught by its content.
    expect(await testSetWarning(copy, copy, await readSeeds(copy))).toMatch(/218 from the Evol-Instruct test set/);
  });

  it("by content: some test-set questions mixed into the user's own seeds", async () => {
    const koala = (await readSeeds(resolveBenchmark("koala"))).slice(0, 3);
    const mixed = [...koala, { id: "x", instruction: "A seed of my own." }];
    const warning = await testSetWarning("mine.jsonl", join(dir, "mine.jsonl"), mixed);
    expect(warning).toMatch(/of the 4 seeds used from mine\.jsonl, 3 from the Koala test set/);
  });

  it("none for the seed tasks or the user's own seeds; MT-Bench shares two questions with Vicuna", async () => {
    const seedTasks = resolveBenchmark("self-instruct-seed", BENCHMARK_NAMES);
    expect(await testSetWarning("self-instruct-seed", seedTasks, await readSeeds(seedTasks))).toBeUndefined();
    const mtBench = resolveBenchmark("mt-bench");
    expect(await testSetWarning("mt-bench", mtBench, await readSeeds(mtBench))).toMatch(
      /of the 80 seeds used from mt-bench, 2 from the Vicuna test set/,
    );
    expect(
      await testSetWarning("mine.jsonl", join(dir, "mine.jsonl"), [{ id: "a", instruction: "Say hi" }]),
    ).toBeUndefined();
  });
});
