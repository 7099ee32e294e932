import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ScriptedRole, codecReply } from "../support/codec-responder.js";
import { runCli, serverEnv } from "../support/cli.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";

describe("codeclm generate with large and repetitive seed files", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  const encodePrompts: string[] = [];

  beforeAll(async () => {
    server = await startOpenAIServer({
      recordRequests: false,
      respond: (request) => {
        const role: ScriptedRole = request.model === "target-model" ? "target" : "strong";
        const prompt = request.messages.map((message) => message.content).join("\n");
        const reply = codecReply(role, prompt);
        if (reply && typeof reply === "object" && "use_case" in reply) encodePrompts.push(prompt);
        return typeof reply === "string" ? { text: reply } : { json: reply };
      },
    });
    dir = await mkdtemp(join(tmpdir(), "codeclm-seed-files-"));
  });
  afterAll(async () => server.close());

  const env = () => serverEnv(server, "sk-test-seed-files-0000");
  const models = ["--strong", "openai:strong-model", "--target", "openai:target-model"];

  it("20,000 seeds, --size 10 --pool 20: a sample is encoded, not the file, and the summary says so", async () => {
    const seeds = join(dir, "many.jsonl");
    const topics = ["poetry", "pandas", "interest rates", "bread", "chess", "tides", "sorting", "volcanoes"];
    await writeFile(
      seeds,
      Array.from({ length: 20_000 }, (_, i) =>
        JSON.stringify({ id: `s${i}`, instruction: `Explain ${topics[i % topics.length]} to reader number ${i}.` }),
      ).join("\n"),
    );
    encodePrompts.length = 0;
    const started = performance.now();
    const out = join(dir, "many-out.jsonl");
    const result = await runCli(
      ["generate", "--seeds", seeds, "--out", out, "--size", "10", "--pool", "20", ...models],
      env(),
    );
    const seconds = (performance.now() - started) / 1000;
    expect(result.code, result.stderr).toBe(0);
    expect(seconds).toBeLessThan(60);
    expect(result.stderr).toContain("20000 seeds read, a sample of 50 used");
    const summary = JSON.parse(await readFile(join(dir, "many-out.summary.json"), "utf8"));
    expect(summary.calls.byStep.encode.calls).toBe(50);
    expect(encodePrompts).toHaveLength(50);
    expect(summary.seeds).toMatchObject({
      read: 20_000,
      unique: 20_000,
      duplicates: 0,
      sampleSize: 50,
      sampled: 50,
      encoded: 50,
    });
  }, 120_000);

  it("10 copies of one seed plus 5 others: 6 encode calls, the merged ids recorded", async () => {
    const seeds = join(dir, "copies.jsonl");
    const lines = [
      ...Array.from({ length: 10 }, (_, i) => ({
        id: `copy${i}`,
        instruction: i % 3 === 0 ? "Write a haiku  about autumn." : "Write a haiku about autumn.",
      })),
      ...[
        "Explain recursion.",
        "Summarise a news article.",
        "Plan a trip to Rome.",
        "Fix this SQL query.",
        "Translate a menu into French.",
      ].map((instruction, i) => ({ id: `other${i}`, instruction })),
    ];
    await writeFile(seeds, lines.map((line) => JSON.stringify(line)).join("\n"));
    encodePrompts.length = 0;
    const out = join(dir, "copies-out.jsonl");
    const result = await runCli(
      ["generate", "--seeds", seeds, "--out", out, "--size", "4", "--pool", "8", ...models],
      env(),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("15 seeds read, 9 identical merged, all 6 used");
    const summary = JSON.parse(await readFile(join(dir, "copies-out.summary.json"), "utf8"));
    expect(summary.calls.byStep.encode.calls).toBe(6);
    expect(encodePrompts).toHaveLength(6);
    expect(summary.seeds).toMatchObject({
      read: 15,
      unique: 6,
      duplicates: 9,
      sampled: 6,
      encoded: 6,
      merged: { copy0: ["copy1", "copy2", "copy3", "copy4", "copy5", "copy6", "copy7", "copy8", "copy9"] },
    });
  }, 120_000);

  it("--seeds takes a built-in set's name, and warns when it is one of the paper's test sets", async () => {
    const koala = await runCli(
      // --pool 200: a seed sample of max(pool, 50) takes all 180 of them.
      ["generate", "--seeds", "koala", "--out", join(dir, "koala-out.jsonl"), "--dry-run", "--pool", "200", ...models],
      env(),
    );
    expect(koala.code, koala.stderr).toBe(0);
    expect(koala.stderr).toContain(
      "codeclm: warning: koala is the Koala test set (its authors release it for evaluation only",
    );
    expect(koala.stdout).toMatch(/encode\s+\S+\s+180\b/);
    const seedTasks = await runCli(
      ["generate", "--seeds", "self-instruct-seed", "--out", join(dir, "tasks-out.jsonl"), "--dry-run", ...models],
      env(),
    );
    expect(seedTasks.code, seedTasks.stderr).toBe(0);
    expect(seedTasks.stderr).not.toContain("warning");
    const unknown = await runCli(
      ["generate", "--seeds", "koalas", "--out", join(dir, "x.jsonl"), "--dry-run", ...models],
      env(),
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      "koalas: no such file, and not a built-in set (vicuna, koala, self-instruct, evol-instruct, mt-bench, self-instruct-seed)",
    );
  }, 120_000);

  it("--seed-sample all encodes every distinct seed; an over-long seed is an input error by file and line", async () => {
    const seeds = join(dir, "all.txt");
    await writeFile(seeds, Array.from({ length: 60 }, (_, i) => `Task number ${i}`).join("\n"));
    const dry = await runCli(
      [
        "generate",
        "--seeds",
        seeds,
        "--out",
        join(dir, "all-out.jsonl"),
        "--pool",
        "20",
        "--seed-sample",
        "all",
        "--dry-run",
        ...models,
      ],
      env(),
    );
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/encode\s+\S+\s+60\b/);
    const sampled = await runCli(
      ["generate", "--seeds", seeds, "--out", join(dir, "all-out.jsonl"), "--pool", "20", "--dry-run", ...models],
      env(),
    );
    expect(sampled.stdout).toMatch(/encode\s+\S+\s+50\b/);

    const long = join(dir, "long.txt");
    await writeFile(long, `short one\n${"y".repeat(300)}\n`);
    const result = await runCli(
      ["generate", "--seeds", long, "--out", join(dir, "long-out.jsonl"), "--max-seed-chars", "200", ...models],
      env(),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${long}:2: the instruction is 300 characters long, over the limit of 200`);
  }, 120_000);
});
