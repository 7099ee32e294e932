import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

const lines = async (path: string) =>
  (await readFile(path, "utf8"))
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe("codeclm export (CLI)", () => {
  let dir: string;
  let kept: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "codeclm-export-"));
    kept = join(dir, "data.jsonl");
    const pairs = Array.from({ length: 20 }, (_, k) => ({
      id: `m${k}-r1-0`,
      instruction: `Instruction ${k}`,
      response: `Response ${k}`,
      source: "strong",
      iteration: 1,
    }));
    await writeFile(kept, pairs.map((pair) => JSON.stringify(pair)).join("\n"));
  });

  it("writes OpenAI chat format with a system prompt and a seeded validation split", async () => {
    const output = join(dir, "train.jsonl");
    const args = [
      "export",
      kept,
      "--format",
      "openai-chat",
      "--out",
      output,
      "--system",
      "You are concise.",
      "--val-split",
      "0.25",
    ];
    const result = await runCli(args);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("15 -> ");
    const train = await lines(output);
    const validation = await lines(join(dir, "train.val.jsonl"));
    expect(train).toHaveLength(15);
    expect(validation).toHaveLength(5);
    expect(train[0]).toEqual({
      messages: [
        { role: "system", content: "You are concise." },
        { role: "user", content: expect.stringMatching(/^Instruction \d+$/) },
        { role: "assistant", content: expect.stringMatching(/^Response \d+$/) },
      ],
    });
    // Same seed, same split; existing outputs are not overwritten without --force.
    expect((await runCli(args)).code).toBe(2);
    const again = await runCli([...args, "--force"]);
    expect(again.code).toBe(0);
    expect(await lines(join(dir, "train.val.jsonl"))).toEqual(validation);
  });

  it("writes ShareGPT, and Alpaca as a JSON array when the file is .json", async () => {
    expect((await runCli(["export", kept, "--format", "sharegpt", "--out", join(dir, "sharegpt.jsonl")])).code).toBe(0);
    expect((await lines(join(dir, "sharegpt.jsonl")))[3]).toEqual({
      conversations: [
        { from: "human", value: "Instruction 3" },
        { from: "gpt", value: "Response 3" },
      ],
    });
    expect((await runCli(["export", kept, "--format", "alpaca", "--out", join(dir, "alpaca.json")])).code).toBe(0);
    const alpaca = JSON.parse(await readFile(join(dir, "alpaca.json"), "utf8")) as unknown[];
    expect(alpaca).toHaveLength(20);
    expect(alpaca[0]).toEqual({ instruction: "Instruction 0", input: "", output: "Response 0" });
  });

  it("refuses a file that is not kept pairs: file and line, exit 2, nothing written", async () => {
    const bad = join(dir, "seeds.jsonl");
    await writeFile(
      bad,
      `${JSON.stringify({ id: "1", instruction: "a", response: "b" })}\n${JSON.stringify({ id: "2", prompt: "hello" })}\n`,
    );
    const result = await runCli(["export", bad, "--format", "jsonl", "--out", join(dir, "never.jsonl")]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/^codeclm: .*seeds\.jsonl:2: not a kept pair/);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    await expect(readFile(join(dir, "never.jsonl"))).rejects.toThrow();
    const unknown = await runCli(["export", kept, "--format", "csv", "--out", join(dir, "x.csv")]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("Allowed choices are openai-chat, alpaca, sharegpt, jsonl");
  });
});
