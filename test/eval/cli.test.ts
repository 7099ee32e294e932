import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EvalItemSchema } from "../../eval/records.js";
import { readJsonl, runCli, serverEnv } from "../support/cli.js";
import { evalResponder } from "../support/eval-responder.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";

describe("codeclm eval (CLI, end to end through the OpenAI protocol)", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  const SECRET = "sk-test-cli-eval-SECRET-0123456789";
  const env = () => serverEnv(server, SECRET);
  const models = ["--model", "openai:tuned", "--reference", "openai:strong", "--judge", "openai:judge"];

  beforeAll(async () => {
    server = await startOpenAIServer({
      respond: evalResponder({ modelName: "tuned", referenceName: "strong", judgeName: "judge" }),
      latencyMs: { mean: 5, jitter: 5 },
    });
    dir = await mkdtemp(join(tmpdir(), "codeclm-eval-cli-"));
  });
  afterAll(async () => server.close());

  it("evaluates the 80 Vicuna questions shipped with codeclm (--benchmark vicuna), per category, and prints CRR", async () => {
    const out = join(dir, "vicuna");
    const result = await runCli(["eval", "--benchmark", "vicuna", ...models, "--out", out, "--quiet"], env());
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const items = (await readJsonl(join(out, "eval.jsonl"))).map((line) => EvalItemSchema.parse(line));
    expect(items).toHaveLength(80);
    expect(new Set(items.map((item) => item.category)).size).toBe(9);
    const summary = JSON.parse(await readFile(join(out, "eval.summary.json"), "utf8"));
    expect(summary.wins + summary.ties + summary.losses).toBe(80);
    expect(summary.crr).toBeCloseTo((summary.wins + summary.ties) / 80);
    expect(Object.keys(summary.byCategory).sort()).toEqual([
      "coding",
      "common-sense",
      "counterfactual",
      "fermi",
      "generic",
      "knowledge",
      "math",
      "roleplay",
      "writing",
    ]);
    expect(result.stdout).toMatch(/^all\s+\d+\s+\d+\s+\d+\s+0\s+\d+\.\d\d%$/m);
    expect(result.stdout).toContain("position consistency");
    expect(result.stdout).toContain("wins = openai:tuned scored higher than openai:strong in both answer orders");
    for (const name of ["eval.jsonl", "eval.summary.json"])
      expect(await readFile(join(out, name), "utf8")).not.toContain(SECRET);
  });

  it("takes both sides' answers from files: only the judge is called", async () => {
    const bench = join(dir, "bench.csv");
    await writeFile(bench, 'id,prompt,category\nq1,"[win] Name a prime",math\nq2,"[loss] Name a colour",art\n');
    const answers = join(dir, "answers.jsonl");
    await writeFile(answers, '{"id":"q1","output":"[model] 7"}\n{"id":"q2","output":"[model] red"}\n');
    const reference = join(dir, "reference.json");
    await writeFile(
      reference,
      JSON.stringify([
        { id: "q1", answer: "[reference] 2" },
        { id: "q2", answer: "[reference] blue" },
      ]),
    );
    server.reset();
    const out = join(dir, "files");
    const result = await runCli(
      [
        "eval",
        "--benchmark",
        bench,
        "--answers",
        answers,
        "--reference-answers",
        reference,
        "--judge",
        "openai:judge",
        "--out",
        out,
      ],
      env(),
    );
    expect(result.code).toBe(0);
    expect(server.requests.every((request) => request.model === "judge")).toBe(true);
    expect(result.stdout).toMatch(/^art\s+0\s+0\s+1\s+0\s+0\.00%$/m);
    expect(result.stdout).toMatch(/^math\s+1\s+0\s+0\s+0\s+100\.00%$/m);
  });

  it.each([
    ["no judge", ["--model", "openai:a", "--reference", "openai:b"], "--judge SPEC is required"],
    ["no model", ["--reference", "openai:b", "--judge", "openai:j"], "give the model under test"],
    [
      "model and answers",
      ["--model", "openai:a", "--answers", "x.jsonl", "--reference", "openai:b", "--judge", "openai:j"],
      "not both",
    ],
  ])("usage problems (%s) exit 2 before any model call", async (_label, args, message) => {
    const bench = join(dir, "one.txt");
    await writeFile(bench, "Say hi\n");
    server.reset();
    const result = await runCli(["eval", "--benchmark", bench, ...args, "--out", join(dir, "bad")], env());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(server.counters.requests).toBe(0);
  });

  it("an answers file that misses a benchmark item stops with exit 2, naming it", async () => {
    const bench = join(dir, "two.txt");
    await writeFile(bench, "Say hi\nSay bye\n");
    const answers = join(dir, "partial.jsonl");
    await writeFile(answers, '{"id":"seed-1","answer":"hi"}\n');
    server.reset();
    const result = await runCli(
      [
        "eval",
        "--benchmark",
        bench,
        "--answers",
        answers,
        "--reference",
        "openai:strong",
        "--judge",
        "openai:judge",
        "--out",
        join(dir, "bad2"),
      ],
      env(),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no answer for 1 of the 2 benchmark item(s) (matched by id): "seed-2"');
    expect(server.counters.requests).toBe(0);
  });
});
