import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeptPairSchema } from "../../lib/records.js";
import { readBlocks } from "../../prompts/delimit.js";
import { readJsonl, runCli, serverEnv } from "../support/cli.js";
import { codecReply, hashText } from "../support/codec-responder.js";
import { type ChatRequest, type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";

const STRENGTH: Record<string, number> = {
  target: 0,
  "tuned-no-metadata": 1,
  "tuned-metadata-only": 2,
  "tuned-metadata-rubrics": 3,
  "tuned-full": 4,
};

/** Generation through codecReply; evaluation answers tagged by model; a judge under which later rows recover more. */
function respond(request: ChatRequest) {
  const prompt = request.messages.map((message) => message.content).join("\n");
  if (request.model === "strong" || request.model === "target") {
    const reply = codecReply(request.model, prompt);
    return typeof reply === "string" ? { text: reply } : { json: reply };
  }
  if (request.model.startsWith("tuned-")) return { text: `[${request.model}] answer to: ${prompt.slice(0, 60)}` };
  if (request.model !== "judge") throw new Error(`unknown model ${request.model}`);
  const blocks = readBlocks(prompt);
  const question = blocks?.get("QUESTION") ?? "";
  const first = blocks?.get("ANSWER 1") ?? "";
  const second = blocks?.get("ANSWER 2") ?? "";
  const modelAnswer = first.startsWith("[strong]") ? second : first;
  const strength = STRENGTH[/^\[([\w-]+)\]/.exec(modelAnswer)?.[1] ?? ""] ?? 0;
  const modelWins = hashText(question) % 5 < strength;
  const [model, reference] = modelWins ? [8, 6] : [4, 8];
  return { text: `${first.startsWith("[strong]") ? `${reference} ${model}` : `${model} ${reference}`}\nBecause.` };
}

describe("codeclm generate --ablation and codeclm ablate (CLI, through the OpenAI protocol)", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  let seeds: string;
  let bench: string;
  const env = () => serverEnv(server, "sk-test-ablate-0123456789");
  const QUESTIONS = Array.from({ length: 12 }, (_, i) => `Benchmark question number ${i + 1}: explain topic ${i * 7}.`);

  beforeAll(async () => {
    server = await startOpenAIServer({ respond });
    dir = await mkdtemp(join(tmpdir(), "codeclm-ablate-"));
    seeds = join(dir, "seeds.txt");
    await writeFile(
      seeds,
      "Write a limerick about a cat.\nHow do I sort a list in Python?\nExplain compound interest.\nSummarise the French Revolution.\n",
    );
    bench = join(dir, "bench.txt");
    await writeFile(bench, `${QUESTIONS.join("\n")}\n`);
  }, 180_000);
  afterAll(async () => server.close());

  it("generate --ablation no-metadata needs only the strong model and keeps unjudged pairs", async () => {
    server.reset();
    const out = join(dir, "si.jsonl");
    const result = await runCli(
      [
        "generate",
        "--seeds",
        seeds,
        "--out",
        out,
        "--size",
        "5",
        "--ablation",
        "no-metadata",
        "--strong",
        "openai:strong",
        "--quiet",
      ],
      env(),
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const kept = (await readJsonl(out)).map((line) => KeptPairSchema.parse(line));
    expect(kept).toHaveLength(5);
    expect(kept.every((pair) => pair.scores === undefined && pair.lineage.metadataOrigin === "self-instruct")).toBe(
      true,
    );
    expect(new Set(server.requests.map((request) => request.model))).toEqual(new Set(["strong"]));
    const summary = JSON.parse(await readFile(join(dir, "si.summary.json"), "utf8"));
    expect(summary.settings.ablation).toBe("no-metadata");
  }, 180_000);

  it("generates every row, then evaluates the models tuned on them, reusing what is on disk", async () => {
    const out = join(dir, "ablation");
    const common = [
      "ablate",
      "--seeds",
      seeds,
      "--benchmark",
      bench,
      "--size",
      "6",
      "--pool",
      "4",
      "--strong",
      "openai:strong",
      "--target",
      "openai:target",
      "--out",
      out,
      "--quiet",
    ];

    // 1. Data only: fine-tuning is the user's; the table says what to do next.
    const first = await runCli(common, env());
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    for (const row of ["no-metadata", "metadata-only", "metadata-rubrics", "full"]) {
      expect((await readJsonl(join(out, `${row}.jsonl`))).length).toBe(6);
      expect(first.stdout).toContain(`${row}: not evaluated: fine-tune the target on ${join(out, `${row}.jsonl`)}`);
    }

    // 2. With the tuned models: data reused, every row evaluated, the reference answering each item once.
    server.reset();
    const second = await runCli(
      [...common, "--judge", "openai:judge", "--model-template", "openai:tuned-{row}", "--baseline"],
      env(),
    );
    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    const prompts = server.requests.map((request) => ({
      model: request.model,
      text: request.messages.map((m) => m.content).join("\n"),
    }));
    expect(
      prompts
        .filter((p) => p.model === "strong")
        .map((p) => p.text)
        .sort(),
    ).toEqual([...QUESTIONS].sort());
    expect(prompts.some((p) => p.text.includes("You analyse instructions"))).toBe(false); // no regeneration
    const table = JSON.parse(await readFile(join(out, "ablation.json"), "utf8"));
    const crr = Object.fromEntries(
      table.rows.map((row: { row: string; evaluation: { summary: { crr: number } } }) => [
        row.row,
        row.evaluation.summary.crr,
      ]),
    );
    expect(Object.keys(crr)).toEqual(["baseline", "no-metadata", "metadata-only", "metadata-rubrics", "full"]);
    // Each row's CRR is recomputed here from its own items' raw judge scores (not from the fake's strengths):
    // win = the model scored higher in both orders, loss = the reference did, else tie.
    for (const row of Object.keys(crr)) {
      const dirs = (await readdir(out)).filter((name) => name === `${row}.eval` || name === row);
      expect(dirs, `evaluation folder of ${row}`).toHaveLength(1);
      const items = (await readJsonl(join(out, dirs[0]!, "eval.jsonl"))) as Array<Record<string, any>>;
      expect(items).toHaveLength(QUESTIONS.length);
      const tunedModel = row === "baseline" ? "target" : `tuned-${row}`;
      let wins = 0;
      let losses = 0;
      for (const item of items) {
        if (row !== "baseline") expect(item.answers.model).toMatch(new RegExp(`^\\[${tunedModel}\\]`)); // this row's model answered
        const orders = [item.judgements.modelFirst.scores, item.judgements.referenceFirst.scores];
        if (orders.every((scores) => scores.model > scores.reference)) wins++;
        else if (orders.every((scores) => scores.reference > scores.model)) losses++;
      }
      expect(crr[row]).toBeCloseTo((items.length - losses) / items.length, 10);
      expect(wins + losses).toBeLessThanOrEqual(items.length);
    }
    expect(second.stdout).toMatch(
      /^full\s+\+ Contrastive Filtering \(CodecLM\)\s+6\/6\s+openai:tuned-full\s+\d+\s+\d+\s+\d+\s+0\s+\d+\.\d\d%\s+79\.82%$/m,
    );
    expect(second.stdout).not.toContain("not evaluated");
    expect((await readdir(join(out, "full.eval"))).sort()).toEqual(["eval.jsonl", "eval.summary.json", "inputs.json"]);

    // 3. Everything on disk: nothing is called again.
    server.reset();
    const third = await runCli(
      [...common, "--judge", "openai:judge", "--model-template", "openai:tuned-{row}", "--baseline"],
      env(),
    );
    expect(third.code).toBe(0);
    expect(server.counters.requests).toBe(0);
    expect(third.stdout).toBe(second.stdout);
  }, 300_000);

  it("reuses only what was made from the same inputs: another benchmark is evaluated anew, other seeds or settings are refused", async () => {
    const out = join(dir, "reuse");
    const koala = join(dir, "koala.txt");
    const KOALA = Array.from(
      { length: 7 },
      (_, i) => `Koala question ${i + 1}: how would you ${["cook", "fix", "plan"][i % 3]} thing ${i * 13}?`,
    );
    await writeFile(koala, `${KOALA.join("\n")}\n`);
    const common = [
      "ablate",
      "--seeds",
      seeds,
      "--size",
      "4",
      "--pool",
      "4",
      "--rows",
      "metadata-only,full",
      "--strong",
      "openai:strong",
      "--target",
      "openai:target",
      "--out",
      out,
    ];
    const evaluate = ["--judge", "openai:judge", "--model-template", "openai:tuned-{row}"];

    const vicuna = await runCli([...common, "--benchmark", bench, ...evaluate, "--quiet"], env());
    expect(vicuna.code).toBe(0);
    const vicunaTable = JSON.parse(await readFile(join(out, "ablation.json"), "utf8"));

    // Koala after Vicuna on the same --out: data reused, evaluations redone on Koala's items (was: Vicuna's CRR reported as Koala's).
    server.reset();
    const second = await runCli([...common, "--benchmark", koala, ...evaluate], env());
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(
      /full: redoing the evaluation in .*full\.eval\/eval\.summary\.json: it was made from other inputs \(benchmark .*bench\.txt \(12 items\) → .*koala\.txt \(7 items\)\)/,
    );
    expect(second.stderr).toContain("metadata-only: reusing");
    const judged = server.requests
      .filter((request) => request.model === "judge")
      .map((request) => request.messages.map((m) => m.content).join("\n"));
    expect(judged.length).toBeGreaterThan(0);
    expect(judged.every((prompt) => KOALA.some((question) => prompt.includes(question)))).toBe(true);
    const table = JSON.parse(await readFile(join(out, "ablation.json"), "utf8"));
    for (const row of table.rows as Array<{
      evaluation: { summary: { benchmark: string; totals?: unknown; items?: number } };
    }>) {
      expect(row.evaluation.summary.benchmark).toBe(koala);
    }
    expect(table.rows.map((row: { evaluation: { summary: unknown } }) => row.evaluation.summary)).not.toEqual(
      vicunaTable.rows.map((row: { evaluation: { summary: unknown } }) => row.evaluation.summary),
    );
    const inputs = JSON.parse(await readFile(join(out, "full.eval", "inputs.json"), "utf8"));
    expect(inputs).toMatchObject({
      benchmark: { label: koala, items: 7 },
      model: "openai:tuned-full",
      reference: "openai:strong",
      judge: "openai:judge",
    });

    // The same again: nothing is called.
    server.reset();
    expect((await runCli([...common, "--benchmark", koala, ...evaluate, "--quiet"], env())).code).toBe(0);
    expect(server.counters.requests).toBe(0);

    // Another seed for the data: refused with what changed, before any call; rows without filtering ignore θ.
    server.reset();
    const reseeded = await runCli([...common, "--benchmark", koala, "--seed", "9", "--quiet"], env());
    expect(reseeded.code).toBe(2);
    // every row is checked before any is generated: one message lists them all
    expect(reseeded.stderr).toMatch(
      /metadata-only\.jsonl was made from other inputs \(seed: 42 → 9\); .*full\.jsonl was made from other inputs \(seed: 42 → 9\); use --force/,
    );
    const theta = await runCli([...common, "--benchmark", koala, "--theta", "5", "--quiet"], env());
    expect(theta.code).toBe(2);
    expect(theta.stderr).toMatch(/full\.jsonl was made from other inputs \(theta: 3 → 5\)/);
    expect(theta.stderr).not.toContain("metadata-only.jsonl");
    const otherSeeds = join(dir, "other-seeds.txt");
    await writeFile(otherSeeds, "Plan a picnic.\nExplain recursion.\n");
    const reseed = await runCli(
      [...common.map((arg) => (arg === seeds ? otherSeeds : arg)), "--benchmark", koala, "--quiet"],
      env(),
    );
    expect(reseed.code).toBe(2);
    expect(reseed.stderr).toMatch(/was made from other inputs \(the seeds differ\)/);
    expect(server.counters.requests).toBe(0);
  });

  it("refuses usage problems before any call: an evaluation without a judge, no-metadata with metadata", async () => {
    server.reset();
    const result = await runCli(
      [
        "ablate",
        "--seeds",
        seeds,
        "--benchmark",
        bench,
        "--strong",
        "openai:strong",
        "--target",
        "openai:target",
        "--model-for",
        "full=openai:tuned-full",
        "--out",
        join(dir, "nojudge"),
      ],
      env(),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--judge SPEC is required");
    const metadata = join(dir, "metadata.jsonl");
    await writeFile(metadata, '{"useCase": "qa", "skills": ["history"]}\n');
    const noSeeds = await runCli(
      [
        "generate",
        "--metadata",
        metadata,
        "--ablation",
        "no-metadata",
        "--strong",
        "openai:strong",
        "--out",
        join(dir, "nm.jsonl"),
      ],
      env(),
    );
    expect(noSeeds.code).toBe(2);
    expect(noSeeds.stderr).toContain("--ablation no-metadata generates from seed examples");
    expect(server.counters.requests).toBe(0);
  }, 180_000);
});
