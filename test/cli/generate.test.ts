import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DroppedRecordSchema, KeptPairSchema } from "../../lib/records.js";
import { type ScriptedRole, codecReply } from "../support/codec-responder.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";
import { generateArgs, readJsonl, runCli, serverEnv } from "../support/cli.js";

describe("codeclm generate (CLI, end to end through the OpenAI protocol)", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  const SECRET = "sk-test-cli-SECRET-0123456789abcdef";

  beforeAll(async () => {
    server = await startOpenAIServer({
      respond: (request) => {
        const role: ScriptedRole = request.model === "target-model" ? "target" : "strong";
        const prompt = request.messages.map((message) => message.content).join("\n");
        const reply = codecReply(role, prompt);
        return typeof reply === "string" ? { text: reply } : { json: reply };
      },
    });
    dir = await mkdtemp(join(tmpdir(), "codeclm-cli-"));
  });
  afterAll(async () => server.close());

  const env = () => serverEnv(server, SECRET);

  it("writes kept pairs, drops and a summary that honour the output contract", async () => {
    const seeds = join(dir, "seeds.jsonl");
    await writeFile(
      seeds,
      [
        { id: "a", instruction: "Write a limerick about a cat who learns to code." },
        { id: "b", prompt: "How do I compute a moving average over a pandas DataFrame column?" },
        { question_id: 3, turns: ["Explain compound interest to a teenager."] },
        { idx: 4, Instruction: "Summarise the causes of the French Revolution in five bullet points.\r" },
      ]
        .map((record) => JSON.stringify(record))
        .join("\n"),
    );
    const out = join(dir, "run1.jsonl");
    const result = await runCli(generateArgs({ seeds, out, size: 12, pool: 8, seed: 7 }, "--quiet"), env());
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("kept 12/12");

    const kept = (await readJsonl(out)).map((line) => KeptPairSchema.parse(line));
    expect(kept).toHaveLength(12);
    expect(new Set(kept.map((pair) => pair.id)).size).toBe(12);
    for (const pair of kept) {
      expect(["strong", "target"]).toContain(pair.source);
      expect(pair.iteration).toBeGreaterThanOrEqual(1);
      expect(pair.iteration).toBeLessThanOrEqual(4);
      expect(pair.metadata.skills.length).toBeLessThanOrEqual(3);
      expect(pair.scores!.gap).toBeCloseTo(pair.scores!.strong - pair.scores!.target);
      expect(Math.abs(pair.scores!.gap)).toBeGreaterThan(3);
      expect(pair.response).toBe(pair.source === "strong" ? pair.answers.strong : pair.answers.target);
      expect(pair.lineage.actions).toHaveLength(pair.iteration - 1);
      expect(pair.lineage.iterations).toHaveLength(pair.iteration);
      expect(pair.lineage.seedIds.length).toBeGreaterThan(0);
      expect(pair.lineage.basicInstruction).toBe(pair.lineage.iterations[0]!.instruction);
    }
    const dropped = (await readJsonl(join(dir, "run1.dropped.jsonl"))).map((line) => DroppedRecordSchema.parse(line));
    const summary = JSON.parse(await readFile(join(dir, "run1.summary.json"), "utf8"));
    expect(summary.status).toBe("complete");
    expect(summary.kept).toBe(12);
    const perIteration = Object.values(summary.keptPerIteration as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(perIteration).toBe(12);
    expect(summary.calls.byRole.strong.inputTokens).toBeGreaterThan(0);
    expect(summary.calls.byStep.judge.calls).toBeGreaterThan(0);
    expect(summary.calls.total.calls).toBe(server.counters.completed);
    expect(dropped.every((record) => record.runId === summary.runId)).toBe(true);
    // No partial files are left, and the key appears nowhere.
    expect((await readdir(dir)).filter((name) => name.endsWith(".partial"))).toEqual([]);
    for (const name of ["run1.jsonl", "run1.dropped.jsonl", "run1.summary.json"]) {
      expect(await readFile(join(dir, name), "utf8")).not.toContain(SECRET);
    }
  });

  it("refuses to overwrite outputs without --force", async () => {
    const seeds = join(dir, "seeds2.txt");
    await writeFile(seeds, "Write a poem about rain\nExplain recursion\n");
    const out = join(dir, "run2.jsonl");
    await writeFile(out, "");
    const result = await runCli(
      ["generate", "--seeds", seeds, "--out", out, "--strong", "openai:s", "--target", "openai:target-model"],
      env(),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("already exists");
  });

  it.each([
    ["missing file", null, "does-not-exist.jsonl", "does-not-exist.jsonl"],
    ["not JSON", '{"instruction": "ok"}\n{broken\n', "bad.jsonl", "bad.jsonl:2"],
    ["no instruction field", '{"instruction": "ok"}\n{"title": "x"}\n', "nofield.jsonl", "nofield.jsonl:2"],
    ["empty", "", "empty.jsonl", "empty.jsonl"],
  ])(
    "bad seeds (%s): one message naming file and line, exit 2, no model call",
    async (_label, content, name, expected) => {
      const path = join(dir, name);
      if (content !== null) await writeFile(path, content);
      const before = server.counters.requests;
      const result = await runCli(
        [
          "generate",
          "--seeds",
          path,
          "--out",
          join(dir, `${name}.out.jsonl`),
          "--strong",
          "openai:s",
          "--target",
          "openai:t",
        ],
        env(),
      );
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(expected);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(server.counters.requests).toBe(before);
      expect((await readdir(dir)).some((file) => file.startsWith(`${name}.out`))).toBe(false);
    },
  );

  it("with no key and no cached local model fails fast and says what the ways forward are", async () => {
    const seeds = join(dir, "seeds3.txt");
    await writeFile(seeds, "Write a poem about rain\n");
    const started = Date.now();
    // An empty cache and a model host that refuses connections: the machine is offline.
    const result = await runCli(["generate", "--seeds", seeds, "--out", join(dir, "run3.jsonl")], {
      CODECLM_CACHE_DIR: join(dir, "empty-cache"),
      HF_ENDPOINT: "http://127.0.0.1:9",
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("local:/path/model.gguf");
    expect(result.stderr).toContain("OPENAI_API_KEY");
    expect(result.stderr).toContain("OPENAI_BASE_URL");
    expect(Date.now() - started).toBeLessThan(45_000); // generous for a loaded machine; a download attempt would hang far longer
    expect((await readdir(dir)).some((file) => file.startsWith("run3"))).toBe(false);
  });
});
