import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeptPairSchema } from "../../lib/records.js";
import { type ScriptedRole, codecReply } from "../support/codec-responder.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";
import { readJsonl, runCli, serverEnv } from "../support/cli.js";

const SUBJECTS = [
  "a haiku about autumn leaves",
  "a Python function that merges two sorted lists",
  "how compound interest works",
  "the causes of the French Revolution",
  "a three-day itinerary for Kyoto",
  "year-over-year sales growth",
  "a polite email declining a meeting",
  "lists versus tuples in Python",
  "a four-day work week",
  "the water cycle for a child",
  "balancing a chemical equation",
  "a mystery story opening on a night train",
  "a SQL query for the top customers",
  "a cover letter for a nursing job",
  "the rules of chess for beginners",
  "a workout plan for a busy parent",
  "a regular expression for email addresses",
  "the plot of Hamlet in five sentences",
  "a recipe that uses leftover rice",
  "how vaccines train the immune system",
];

/** Which step a request serves, from its prompt: only encode and the pool check may run before the review. */
function stepOf(prompt: string): "encode" | "pool-check" | "later" {
  if (prompt.includes("You analyse instructions")) return "encode";
  if (prompt.includes("combined at random")) return "pool-check";
  return "later";
}

describe("codeclm generate --review-pool (CLI)", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  const requests = { encode: 0, "pool-check": 0, later: 0 };

  beforeAll(async () => {
    server = await startOpenAIServer({
      respond: (request) => {
        const role: ScriptedRole = request.model === "target-model" ? "target" : "strong";
        const prompt = request.messages.map((message) => message.content).join("\n");
        requests[stepOf(prompt)]++;
        const reply = codecReply(role, prompt);
        return typeof reply === "string" ? { text: reply } : { json: reply };
      },
    });
    dir = await mkdtemp(join(tmpdir(), "codeclm-review-"));
  });
  afterAll(async () => server.close());

  const env = () => serverEnv(server, "sk-test-review");
  const models = ["--strong", "openai:strong-model", "--target", "openai:target-model", "--quiet"];

  it("stops with exit 5 and the pool file; resumes with exactly the reviewed pool; the file seeds another run", async () => {
    const seeds = join(dir, "seeds.jsonl");
    await writeFile(
      seeds,
      SUBJECTS.map((subject, i) => JSON.stringify({ id: `s${i}`, instruction: `Write about ${subject}.` })).join("\n"),
    );
    const out = join(dir, "data.jsonl");
    const args = ["generate", "--seeds", seeds, "--out", out, "--size", "10", "--pool", "30", "--seed", "3", ...models];

    const stopped = await runCli([...args, "--review-pool"], env());
    expect(stopped.stderr).toBe("");
    expect(stopped.code).toBe(5);
    expect(stopped.stdout).toContain("waiting for review");
    expect(stopped.stdout).toMatch(/resume with: codeclm generate .*--review-pool.* --resume/);
    expect(requests.encode).toBe(20);
    expect(requests.later).toBe(0); // no decode, rubric, answer or judge call
    const poolFile = join(dir, "data.pool.jsonl");
    const pool = (await readJsonl(poolFile)) as Array<{
      id: string;
      useCase: string;
      skills: string[];
      origin: string;
    }>;
    expect(pool).toHaveLength(30);
    for (const entry of pool) {
      expect(entry.id).toMatch(/^m\d+$/);
      expect(entry.useCase).toBeTruthy();
      expect(entry.skills.length).toBeGreaterThan(0);
      expect(["seed", "augmented"]).toContain(entry.origin);
    }
    expect(JSON.parse(await readFile(join(dir, "data.summary.json"), "utf8"))).toMatchObject({ status: "stopped" });

    // A malformed line: file:line, exit 2, nothing spent.
    const lines = (await readFile(poolFile, "utf8")).split("\n").filter(Boolean);
    const NEW = { useCase: "Explaining tax forms", skills: ["plain language", "arithmetic"] };
    await writeFile(poolFile, [...lines.slice(0, 2), '{"useCase": "no skills here"}', ...lines.slice(2, 4)].join("\n"));
    const spent = { ...requests };
    const malformed = await runCli([...args, "--review-pool", "--resume"], env());
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain(`${poolFile}:3:`);
    expect(requests).toEqual(spent);

    // Cut to 4 lines plus one new metadata (no id); resumed without repeating --review-pool.
    const reviewed = [...lines.slice(0, 4), JSON.stringify(NEW)];
    await writeFile(poolFile, `${reviewed.join("\n")}\n`);
    const resumed = await runCli([...args, "--resume"], env());
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    const kept = (await readJsonl(out)).map((line) => KeptPairSchema.parse(line));
    expect(kept).toHaveLength(10);
    const keptIds = new Set(pool.slice(0, 4).map((entry) => entry.id));
    const useCases = new Set([...pool.slice(0, 4).map((entry) => entry.useCase), NEW.useCase]);
    for (const pair of kept) expect(useCases.has(pair.metadata.useCase)).toBe(true);
    const fromNew = kept.filter((pair) => pair.metadata.useCase === NEW.useCase);
    expect(fromNew.length).toBeGreaterThan(0);
    for (const pair of fromNew) expect(pair.lineage.metadataOrigin).toBe("user");
    for (const pair of kept.filter((p) => p.metadata.useCase !== NEW.useCase))
      expect(keptIds.has(pair.lineage.metadataId)).toBe(true);
    const summary = JSON.parse(await readFile(join(dir, "data.summary.json"), "utf8")) as {
      pool: Record<string, number>;
      tailoring: { useCaseDivergence: number; skillDivergence: number };
    };
    expect(summary.pool).toMatchObject({ size: 5, reviewedFrom: 30, reviewedAdded: 1 });
    expect(summary.tailoring.useCaseDivergence).toBeGreaterThanOrEqual(0);
    expect(summary.tailoring.useCaseDivergence).toBeLessThanOrEqual(1);

    // The reviewed file seeds another run as user-written metadata.
    const again = await runCli(
      ["generate", "--metadata", poolFile, "--out", join(dir, "again.jsonl"), "--size", "5", ...models],
      env(),
    );
    expect(again.stderr).toBe("");
    expect(again.code).toBe(0);
    const againKept = (await readJsonl(join(dir, "again.jsonl"))).map((line) => KeptPairSchema.parse(line));
    for (const pair of againKept) expect(useCases.has(pair.metadata.useCase)).toBe(true);
  }, 120_000);

  it("refuses --review-pool without checkpoints before anything is spent", async () => {
    const before = { ...requests };
    const result = await runCli(
      [
        "generate",
        "--seeds",
        join(dir, "seeds.jsonl"),
        "--out",
        join(dir, "none.jsonl"),
        "--review-pool",
        "--checkpoint",
        "none",
        ...models,
      ],
      env(),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("needs checkpoints");
    expect(requests).toEqual(before);
  });

  it("--review-instructions N stops after the first decode with N per metadata written out, then resumes", async () => {
    const out = join(dir, "look.jsonl");
    const args = [
      "generate",
      "--seeds",
      join(dir, "seeds.jsonl"),
      "--out",
      out,
      "--size",
      "8",
      "--pool",
      "4",
      "--seed",
      "5",
      ...models,
    ];
    const answersBefore = requests.later;
    const stopped = await runCli([...args, "--review-instructions", "2"], env());
    expect(stopped.stderr).toBe("");
    expect(stopped.code).toBe(5);
    expect(stopped.stdout).toContain("waiting for review of the basic instructions");
    const samples = (await readJsonl(join(dir, "look.instructions.jsonl"))) as Array<{
      metadataId: string;
      instructions: string[];
    }>;
    expect(samples).toHaveLength(4);
    for (const sample of samples) expect(sample.instructions).toHaveLength(2);
    // Decode calls only, one per metadata: rubrics are written later, when an instruction first needs them.
    expect(requests.later - answersBefore).toBe(4);
    const resumed = await runCli([...args, "--resume"], env());
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    expect(await readJsonl(out)).toHaveLength(8);
  }, 120_000);
});
