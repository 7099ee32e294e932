import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, serverEnv } from "../support/cli.js";
import { codecReply } from "../support/codec-responder.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";

describe("codeclm generate: strong and target must differ", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  let seeds: string;

  beforeAll(async () => {
    server = await startOpenAIServer({
      respond: (request) => {
        const reply = codecReply(
          request.model === "target-model" ? "target" : "strong",
          request.messages.map((m) => m.content).join("\n"),
        );
        return typeof reply === "string" ? { text: reply } : { json: reply };
      },
    });
    dir = await mkdtemp(join(tmpdir(), "codeclm-same-"));
    seeds = join(dir, "seeds.txt");
    await writeFile(seeds, "Write a limerick about a cat\nExplain recursion in Python\nPlan a trip to Kyoto\n");
  });
  afterAll(async () => server.close());

  const env = () => serverEnv(server, "sk-test");
  const run = (name: string, target: string) =>
    runCli(
      [
        "generate",
        "--seeds",
        seeds,
        "--out",
        join(dir, `${name}.jsonl`),
        "--size",
        "3",
        "--pool",
        "3",
        "--top-up-rounds",
        "0",
        "--max-iterations",
        "2",
        "--strong",
        "openai:strong-model",
        "--target",
        target,
      ],
      env(),
    );

  it("warns before the run, in the final message and in the summary when both roles are one model", async () => {
    const result = await run("same", "openai:strong-model");
    expect(result.code).toBeLessThan(4);
    const warning = "strong and target are the same model (both openai:strong-model)";
    expect(result.stderr).toContain(`codeclm: warning: ${warning}`);
    expect(result.stdout).toContain(`warning: ${warning}`);
    const summary = JSON.parse(await readFile(join(dir, "same.summary.json"), "utf8")) as { warnings: string[] };
    expect(summary.warnings).toHaveLength(1);
    expect(summary.warnings[0]).toContain(warning);
  });

  it("says nothing when they differ", async () => {
    const result = await run("pair", "openai:target-model");
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain("warning");
    const summary = JSON.parse(await readFile(join(dir, "pair.summary.json"), "utf8")) as { warnings: string[] };
    expect(summary.warnings).toEqual([]);
  });

  it("offline with no key and nothing cached, stops at once listing both files of the default pair", async () => {
    const result = await runCli(["generate", "--seeds", seeds, "--out", join(dir, "offline.jsonl")], {
      CODECLM_CACHE_DIR: join(dir, "empty-cache"),
      HF_ENDPOINT: "http://127.0.0.1:9",
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("qwen2.5-1.5b-instruct-q4_k_m.gguf");
    expect(result.stderr).toContain("qwen2.5-0.5b-instruct-q4_k_m.gguf");
    expect(result.stderr).not.toContain("same model");
    expect((await readdir(dir)).some((file) => file.startsWith("offline"))).toBe(false);
  });
});
