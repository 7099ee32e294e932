import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readJsonl, runCli } from "../support/cli.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";
import { protocolResponder } from "../support/protocol-responder.js";

describe("codeclm protocol (CLI, through the OpenAI protocol)", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  const env = () => ({ OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test-protocol-0123456789" });
  const base = (out: string) => [
    "protocol",
    "--benchmark",
    "vicuna",
    "--strong",
    "openai:strong",
    "--target",
    "openai:target",
    "--judge",
    "openai:judge",
    "--size",
    "3",
    "--out",
    out,
    "--quiet",
  ];
  const judged = () => server.requests.filter((request) => request.model === "judge").length;

  beforeAll(async () => {
    server = await startOpenAIServer({ respond: protocolResponder });
    dir = await mkdtemp(join(tmpdir(), "codeclm-protocol-cmd-"));
  });
  afterAll(async () => server.close());

  it("splits, generates and exports, stops with the next step; with --tuned evaluates the held-out 64 beside the paper's 88.75%", async () => {
    const out = join(dir, "vicuna");
    const first = await runCli(base(out), env());
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("seeds: 16 of vicuna (held out: 64)");
    expect(first.stdout).toMatch(/training file \(openai-chat\): 3 examples -> .*train\.openai-chat\.jsonl/);
    expect(first.stdout).toContain("next: fine-tune openai:target on");
    expect(first.stdout).toContain("--tuned openai:YOUR-TUNED-MODEL");
    expect(judged()).toBe(0);
    const training = (await readJsonl(join(out, "train.openai-chat.jsonl"))) as Array<{ messages: unknown[] }>;
    expect(training).toHaveLength(3);
    const dataSummary = JSON.parse(await readFile(join(out, "full.summary.json"), "utf8"));
    expect(dataSummary.split).toMatchObject({ set: "vicuna", fraction: 0.2, seed: 42 });
    expect(dataSummary.split.ids).toHaveLength(16);
    expect(await readJsonl(join(out, "split", "held-out.jsonl"))).toHaveLength(64);

    server.reset();
    const tuned = await runCli([...base(out), "--tuned", "openai:tuned"], env());
    expect(tuned.stderr).toBe("");
    expect(tuned.code).toBe(0);
    // The data was reused, not generated again: only the evaluation's calls were made.
    expect(server.requests.every((request) => ["tuned", "strong", "judge"].includes(request.model))).toBe(true);
    expect(server.requests.filter((request) => request.model === "strong")).toHaveLength(64);
    expect(judged()).toBe(128);
    const row = tuned.stdout.split("\n").find((line) => line.startsWith("vicuna "));
    expect(row).toMatch(/^vicuna\s+64\s+\d+\.\d\d%\s+88\.75%$/);
    const evalSummary = JSON.parse(await readFile(join(out, "full.eval", "eval.summary.json"), "utf8"));
    expect(evalSummary.leakage).toMatchObject({ excluded: 16, evaluated: 64, overlap: 0 });
    expect(row).toContain(`${(evalSummary.crr * 100).toFixed(2)}%`);
    const seeds = new Set<string>(dataSummary.split.ids);
    const items = (await readJsonl(join(out, "full.eval", "eval.jsonl"))) as Array<{ id: string }>;
    expect(items.filter((item) => seeds.has(item.id))).toEqual([]);

    // The same command again reuses everything; a changed setting is refused.
    server.reset();
    const again = await runCli([...base(out), "--tuned", "openai:tuned"], env());
    expect(again.code).toBe(0);
    expect(server.requests).toHaveLength(0);
    expect(again.stdout).toContain(row!);
    const changed = await runCli([...base(out), "--tuned", "openai:tuned", "--theta", "2"], env());
    expect(changed.code).toBe(2);
    expect(changed.stderr).toMatch(/full\.jsonl was made from other inputs \(theta: 3 → 2\)/);
    const otherSplit = await runCli([...base(out), "--seed", "9"], env());
    expect(otherSplit.code).toBe(2);
    expect(otherSplit.stderr).toContain("holds another split");
  }, 180_000);
});
