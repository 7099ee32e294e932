import { mkdtemp, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, serverEnv } from "../support/cli.js";
import { codecReply } from "../support/codec-responder.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";

/** Settings that can never produce data are refused before any model is called (issue 9, point 3). */
describe("codeclm generate refuses impossible settings: exit 2, no model call", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  let seeds: string;
  const env = () => serverEnv(server, "sk-test-settings-0123456789");
  const base = () => [
    "generate",
    "--seeds",
    seeds,
    "--strong",
    "openai:strong",
    "--target",
    "openai:target",
    "--size",
    "4",
    "--quiet",
  ];

  beforeAll(async () => {
    server = await startOpenAIServer({
      respond: (request) => {
        const reply = codecReply(
          request.model === "target" ? "target" : "strong",
          request.messages.map((m) => m.content).join("\n"),
        );
        return typeof reply === "string" ? { text: reply } : { json: reply };
      },
    });
    dir = await mkdtemp(join(tmpdir(), "codeclm-settings-"));
    seeds = join(dir, "seeds.txt");
    await writeFile(seeds, "Write a limerick about a cat.\nHow do I sort a list in Python?\n");
  });
  afterAll(async () => server.close());

  const refused = async (args: string[], pattern: RegExp, out: string) => {
    server.reset();
    const result = await runCli([...base(), "--out", out, ...args], env());
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.code).toBe(2);
    expect(server.counters.requests).toBe(0);
    await expect(stat(out)).rejects.toThrow(); // nothing written
  };

  it("--theta 11: no gap on the 1-10 scale can exceed it", async () => {
    await refused(["--theta", "11"], /theta 11 can never be exceeded: scores are 1-10/, join(dir, "theta.jsonl"));
  });

  it("--config with a misspelt key names the file, the key and the nearest known one", async () => {
    const config = join(dir, "typo.json");
    await writeFile(config, JSON.stringify({ sise: 5 }));
    await refused(
      ["--config", config],
      new RegExp(`${config}: unknown setting "sise" \\(did you mean "size"\\?\\)`),
      join(dir, "typo.jsonl"),
    );
    const nested = join(dir, "nested.json");
    await writeFile(nested, JSON.stringify({ temperatures: { decod: 0.2 } }));
    await refused(
      ["--config", nested],
      /unknown setting "temperatures\.decod" \(did you mean "temperatures\.decode"\?\)/,
      join(dir, "nested.jsonl"),
    );
  });

  it("--dedupe-threshold 0, and a fixed per-metadata count that cannot reach --size", async () => {
    await refused(["--dedupe-threshold", "0"], /dedupeThreshold 0 drops every instruction/, join(dir, "dedupe.jsonl"));
    await refused(
      ["--pool", "2", "--per-metadata", "1", "--top-up-rounds", "0", "--size", "5"],
      /size 5 cannot be reached: .* decodes at most 2 instructions/,
      join(dir, "capacity.jsonl"),
    );
  });

  it("--ablation-improvements outside the metadata-rubrics row contradicts it", async () => {
    await refused(
      ["--ablation-improvements", "2"],
      /--ablation-improvements applies to --ablation metadata-rubrics only \(this run: full\)/,
      join(dir, "improve.jsonl"),
    );
  });

  it("--dry-run refuses them too", async () => {
    server.reset();
    const result = await runCli([...base(), "--out", join(dir, "dry.jsonl"), "--theta", "9", "--dry-run"], env());
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/theta 9 can never be exceeded/);
  });
});
