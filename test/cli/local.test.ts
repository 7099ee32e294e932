import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DroppedRecordSchema, KeptPairSchema } from "../../lib/records.js";
import { writeTinyLlamaGguf } from "../support/gguf-writer.js";
import { readJsonl, runCli } from "../support/cli.js";

/** One thread: the fast setting on small machines (see README, Local models). */
const LOCAL_ENV = { CODECLM_LOCAL_THREADS: "1" };

const lines = readJsonl;

describe("codeclm generate with both roles local (node-llama-cpp, a GGUF written at test time)", () => {
  let dir: string;
  let model: string;
  let seeds: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "codeclm-local-"));
    model = join(dir, "tiny.gguf");
    await writeTinyLlamaGguf(model);
    seeds = join(dir, "seeds.txt");
    await writeFile(seeds, "Write a poem about rain\nExplain recursion in Python\nPlan a three-day trip to Kyoto\n");
  });

  it("runs the whole pipeline in-process and accounts for every call and failure", async () => {
    const out = join(dir, "local.jsonl");
    const result = await runCli(
      [
        "generate",
        "--seeds",
        seeds,
        "--out",
        out,
        "--size",
        "2",
        "--pool",
        "3",
        "--max-output-tokens",
        "96",
        "--top-up-rounds",
        "0",
        "--strong",
        `local:${model}`,
        "--target",
        `local:${model}`,
        "--quiet",
      ],
      LOCAL_ENV,
    );
    // A random-weight model rarely writes usable instructions: the run may end short, but it ends.
    expect([0, 3]).toContain(result.code);
    const summary = JSON.parse(await readFile(join(dir, "local.summary.json"), "utf8"));
    expect(summary.models).toEqual({ strong: `local:${model}`, target: `local:${model}`, judge: `local:${model}` });
    expect(summary.calls.byRole.strong.calls).toBeGreaterThan(0);
    expect(summary.calls.byRole.strong.inputTokens).toBeGreaterThan(0);
    const kept = (await lines(out)).map((line) => KeptPairSchema.parse(line));
    const dropped = (await lines(join(dir, "local.dropped.jsonl"))).map((line) => DroppedRecordSchema.parse(line));
    expect(kept.length).toBe(summary.kept);
    // Every failed step is in the dropped file: nothing turns into an empty row.
    const failures = Object.values(summary.failures as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(dropped.filter((record) => record.reason === "failure").length).toBe(failures);
    for (const pair of kept) expect(pair.response.trim()).not.toBe("");
    expect((await readdir(dir)).filter((name) => name.endsWith(".partial"))).toEqual([]);
  });

  it("refuses a broken GGUF with a message naming the file and the missing key, never a native abort", async () => {
    const broken = join(dir, "broken.gguf");
    await writeTinyLlamaGguf(broken, { omitKeys: ["llama.feed_forward_length"] });
    const result = await runCli(
      [
        "generate",
        "--seeds",
        seeds,
        "--out",
        join(dir, "broken.jsonl"),
        "--strong",
        `local:${broken}`,
        "--target",
        `local:${model}`,
      ],
      LOCAL_ENV,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(broken);
    expect(result.stderr).toContain("llama.feed_forward_length");
    expect((await readdir(dir)).some((name) => name.startsWith("broken.jsonl"))).toBe(false);
  });
});
