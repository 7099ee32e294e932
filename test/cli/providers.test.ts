import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeptPairSchema } from "../../lib/records.js";
import { type FakeAnthropicServer, startAnthropicServer } from "../support/anthropic-server.js";
import { readJsonl, runCli } from "../support/cli.js";
import { codecReply } from "../support/codec-responder.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";

const ANTHROPIC_KEY = "sk-ant-cli-SECRET-0123456789abcdef";
const OPENAI_KEY = "sk-openai-cli-SECRET-0123456789abcdef";

interface Summary {
  status: string;
  models: { strong: string; target: string; judge: string };
  spend: { costUsd: number; byModel: Record<string, { calls: number; costUsd: number | null }> };
}

describe("codeclm generate with --strong anthropic:… --target openai:… (CLI, against local servers)", () => {
  let claude: FakeAnthropicServer;
  let openai: FakeOpenAIServer;
  let dir: string;
  let seeds: string;

  beforeAll(async () => {
    claude = await startAnthropicServer({
      respond: (request) => {
        const reply = codecReply("strong", request.messages.map((message) => message.content).join("\n"));
        return typeof reply === "string" ? { text: reply } : { json: reply };
      },
    });
    openai = await startOpenAIServer({
      respond: (request) => {
        const reply = codecReply("target", request.messages.map((message) => message.content).join("\n"));
        return typeof reply === "string" ? { text: reply } : { json: reply };
      },
    });
    dir = await mkdtemp(join(tmpdir(), "codeclm-providers-"));
    seeds = join(dir, "seeds.txt");
    await writeFile(seeds, "Write a limerick about a cat\nExplain recursion in Python\nPlan a trip to Kyoto\n");
  });
  afterAll(async () => Promise.all([claude.close(), openai.close()]));

  const generate = (name: string, target: string, extra: string[] = []) =>
    runCli(
      [
        "generate",
        ...["--seeds", seeds, "--out", join(dir, `${name}.jsonl`), "--size", "3", "--pool", "3"],
        ...["--top-up-rounds", "1", "--max-iterations", "2"],
        ...["--strong", "anthropic:claude-sonnet-4-5", "--strong-base-url", claude.url, "--target", target],
        ...extra,
      ],
      { ANTHROPIC_API_KEY: ANTHROPIC_KEY, OPENAI_API_KEY: OPENAI_KEY },
    );

  it("runs end to end: Claude encodes, decodes, improves, answers and judges by tool use; the target answers", async () => {
    const result = await generate("run", "openai:target-model", ["--target-base-url", openai.url]);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/warn|error|fail/i);
    expect(result.stderr).toContain("kept 3/3");
    const kept = await readJsonl(join(dir, "run.jsonl"));
    expect(kept).toHaveLength(3);
    for (const pair of kept) expect(() => KeptPairSchema.parse(pair)).not.toThrow();

    // Every strong call reached the Messages API; structured ones as a forced tool call, answers as text.
    expect(claude.requests.length).toBeGreaterThan(0);
    expect(claude.requests.every((request) => request.model === "claude-sonnet-4-5")).toBe(true);
    expect(claude.requests.every((request) => request.auth.last4 === ANTHROPIC_KEY.slice(-4))).toBe(true);
    const structured = claude.requests.filter((request) => request.mode === "tools");
    expect(structured.length).toBeGreaterThan(0);
    expect(structured.every((request) => request.toolChoice === "tool" && request.toolForced)).toBe(true);
    expect(claude.requests.some((request) => request.mode === "text")).toBe(true);
    // The target only answers (free text) through the OpenAI protocol.
    expect(openai.requests.length).toBeGreaterThan(0);
    expect(openai.requests.every((request) => request.model === "target-model" && request.mode === "text")).toBe(true);

    const summary = JSON.parse(await readFile(join(dir, "run.summary.json"), "utf8")) as Summary;
    expect(summary.models).toEqual({
      strong: "anthropic:claude-sonnet-4-5",
      target: "openai:target-model",
      judge: "anthropic:claude-sonnet-4-5",
    });
    const claudeSpend = summary.spend.byModel["anthropic:claude-sonnet-4-5"]!;
    expect(claudeSpend.calls).toBe(claude.requests.length);
    // Claude Sonnet 4.5 is priced ($3 / $15 per million tokens); the local target model is not.
    expect(claudeSpend.costUsd).toBeGreaterThan(0);

    const written = await Promise.all(
      (await readdir(dir)).filter((file) => file.startsWith("run")).map((file) => readFile(join(dir, file), "utf8")),
    );
    for (const text of [...written, result.stdout, result.stderr]) {
      expect(text).not.toContain(ANTHROPIC_KEY.slice(-12));
      expect(text).not.toContain(OPENAI_KEY.slice(-12));
    }
  });

  it("refuses a LangChain provider whose package is not installed, naming the package, before any call", async () => {
    claude.reset();
    const result = await generate("ollama", "ollama:llama3.2");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("The target model ollama:llama3.2");
    expect(result.stderr).toContain("npm install @langchain/ollama");
    expect(claude.requests).toHaveLength(0);
    expect((await readdir(dir)).some((file) => file.startsWith("ollama"))).toBe(false);
  });

  it("refuses a provider LangChain does not know, listing the ones it does", async () => {
    const result = await generate("unknown", "nosuchprovider:model-x");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown provider nosuchprovider");
    expect(result.stderr).toContain("mistralai");
  });

  it("needs ANTHROPIC_API_KEY for a Claude role on Anthropic's own endpoint", async () => {
    const flagged = await runCli(
      [
        "generate",
        ...["--seeds", seeds, "--out", join(dir, "nokey.jsonl"), "--strong", "anthropic:claude-haiku-4-5"],
        ...["--target", "openai:gpt-4o-mini"],
      ],
      { OPENAI_API_KEY: OPENAI_KEY },
    );
    expect(flagged.code).toBe(2);
    expect(flagged.stderr).toContain("needs an Anthropic API key: set ANTHROPIC_API_KEY");
  });
});
