import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSeeds } from "../../io/seeds.js";
import { benchmarkFile, readJsonl, runCli } from "../support/cli.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";
import { protocolResponder } from "../support/protocol-responder.js";

describe("seeds from a split, evaluation on the rest (CLI, through the OpenAI protocol)", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  const env = () => ({ OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test-protocol-0123456789" });
  const models = ["--strong", "openai:strong", "--target", "openai:target"];
  const evalModels = ["--model", "openai:tuned", "--reference", "openai:strong", "--judge", "openai:judge"];
  const summaryOf = async (path: string) => JSON.parse(await readFile(path, "utf8"));
  const generate = (seeds: string, out: string, extra: string[] = []) =>
    runCli(["generate", "--seeds", seeds, "--out", out, "--size", "3", ...models, "--quiet", ...extra], env());

  beforeAll(async () => {
    server = await startOpenAIServer({ respond: protocolResponder });
    dir = await mkdtemp(join(tmpdir(), "codeclm-protocol-"));
  });
  afterAll(async () => server.close());

  it("generate --seeds vicuna:20% uses 16 seeds, the same 16 for the same --seed; eval --data evaluates the other 64", async () => {
    const out = join(dir, "split", "data.jsonl");
    const first = await generate("vicuna:20%", out, ["--seed", "7"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const summary = await summaryOf(join(dir, "split", "data.summary.json"));
    expect(summary.split).toMatchObject({ set: "vicuna", items: 80, fraction: 0.2, seed: 7 });
    expect(summary.split.ids).toHaveLength(16);
    expect(summary.seeds.sampled).toBe(16);

    const again = await generate("vicuna:20%", join(dir, "again.jsonl"), ["--seed", "7"]);
    expect(again.code).toBe(0);
    expect((await summaryOf(join(dir, "again.summary.json"))).split.ids).toEqual(summary.split.ids);
    const other = await generate("vicuna:16", join(dir, "other.jsonl"), ["--seed", "8"]);
    expect(other.code).toBe(0);
    const otherIds = (await summaryOf(join(dir, "other.summary.json"))).split.ids;
    expect(otherIds).toHaveLength(16);
    expect(otherIds).not.toEqual(summary.split.ids);

    const evalOut = join(dir, "eval-split");
    const evaluated = await runCli(
      ["eval", "--benchmark", "vicuna", "--data", out, ...evalModels, "--out", evalOut, "--quiet"],
      env(),
    );
    expect(evaluated.stderr).toBe("");
    expect(evaluated.code).toBe(0);
    expect(evaluated.stdout).toContain("16 of its seeds left out, 64 evaluated, overlap 0");
    const items = (await readJsonl(join(evalOut, "eval.jsonl"))) as Array<{ id: string }>;
    expect(items).toHaveLength(64);
    const seedIds = new Set<string>(summary.split.ids);
    expect(items.filter((item) => seedIds.has(item.id))).toEqual([]);
    const evalSummary = await summaryOf(join(evalOut, "eval.summary.json"));
    expect(evalSummary.wins + evalSummary.ties + evalSummary.losses).toBe(64);
    expect(evalSummary.leakage).toMatchObject({ excluded: 16, evaluated: 64, overlap: 0, threshold: 0.7 });
  }, 120_000);

  it("eval on a benchmark sharing instructions with the data's seeds refuses (exit 2, the count); --allow-overlap runs and reports it", async () => {
    const vicuna = await readSeeds(benchmarkFile("vicuna-80.jsonl"));
    const own = Array.from({ length: 10 }, (_, i) => ({
      id: `own-${i}`,
      instruction: `Draft a shopping list number ${i} for a picnic with ${i + 3} friends and a dog.`,
    }));
    // Ten Vicuna questions under other ids, one with its whitespace changed and a word added (ROUGE-L, not equality).
    const copied = vicuna.slice(0, 10).map((item, i) => ({
      id: `copied-${i}`,
      instruction: i === 0 ? `${item.instruction.replace(/ /g, "  ")} Please.` : item.instruction,
    }));
    const seeds = join(dir, "mixed-seeds.jsonl");
    await writeFile(seeds, [...own, ...copied].map((item) => `${JSON.stringify(item)}\n`).join(""));
    const out = join(dir, "mixed.jsonl");
    const generated = await generate(seeds, out);
    expect(generated.code).toBe(0);

    server.reset();
    const refused = await runCli(
      ["eval", "--benchmark", "vicuna", "--data", out, ...evalModels, "--out", join(dir, "eval-refused"), "--quiet"],
      env(),
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/10 of 80 item\(s\) overlap the data/);
    expect(refused.stderr).toContain("--allow-overlap");
    expect(server.requests.filter((request) => request.model === "judge")).toEqual([]);

    const allowedOut = join(dir, "eval-allowed");
    const allowed = await runCli(
      [
        "eval",
        "--benchmark",
        "vicuna",
        "--data",
        out,
        "--allow-overlap",
        ...evalModels,
        "--out",
        allowedOut,
        "--quiet",
      ],
      env(),
    );
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain("overlap 10");
    const leakage = (await summaryOf(join(allowedOut, "eval.summary.json"))).leakage;
    expect(leakage).toMatchObject({ excluded: 0, evaluated: 80, overlap: 10, allowed: true });
    expect(leakage.overlapBy.seed).toBe(10);
  }, 120_000);
});
