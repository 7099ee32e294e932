/**
 * The whole graph under a responder that misbehaves the way real models do (test/support/codec-responder.ts,
 * `createAdversary`): repeated instructions across rounds and metadata, broken plausibility verdicts, too few
 * actions, unchanged "improvements", empty answers, out-of-range and string scores. Whatever it does, a run
 * ends with exactly `size` kept pairs (or says why it cannot), no instruction or basic instruction twice, and
 * every failure recorded with its step.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import type { CodecConfigInput } from "../../lib/config.js";
import { metadataKey } from "../../lib/pool.js";
import type { DroppedRecord, KeptPair, Seed } from "../../lib/records.js";
import type { RunSummary } from "../../lib/summary.js";
import {
  type AdversarialOptions,
  STOCK_INSTRUCTIONS,
  type VerdictFault,
  createAdversary,
} from "../support/codec-responder.js";
import { generateArgs, readJsonl, runCli, serverEnv } from "../support/cli.js";
import { startCodecServer } from "../support/codec-server.js";
import { startGeminiServer } from "../support/gemini-server.js";
import { HAND_COMPUTED_ROUGE_L, oracleRougeL as rougeL } from "../support/rouge-oracle.js";
import { adversarialModels, scriptedModels } from "../support/scripted-model.js";
import { type FinalState, asContext, seeds } from "../support/graph-fixtures.js";

async function run(
  options: Parameters<typeof createCodecGraph>[0],
  input: { seeds: Seed[] },
  context: CodecConfigInput,
): Promise<FinalState> {
  return (await createCodecGraph(options).invoke(input, { context: asContext(context) })) as unknown as FinalState;
}

const countBy = <T>(items: readonly T[], key: (item: T) => string) => {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
};

/** Items that occur more than once (an empty list means all distinct). */
const repeated = (items: readonly string[]) => Object.entries(countBy(items, (item) => item)).filter(([, n]) => n > 1);

/** What every run must satisfy, whatever the models did. */
function expectTrustworthy(state: FinalState, size: number) {
  const { kept, dropped, summary } = state;
  if (kept.length !== size) {
    // Fewer than asked is allowed only when the run says so and why.
    expect(summary.status, `kept ${kept.length} of ${size} but status is ${summary.status}`).toBe("incomplete");
    expect(state.stopReason).toMatch(new RegExp(`kept ${kept.length} of ${size}`));
  } else {
    expect(summary.status).toBe("complete");
  }
  expect(repeated(kept.map((pair) => pair.instruction)), "an instruction kept twice").toEqual([]);
  expect(repeated(kept.map((pair) => pair.lineage.basicInstruction)), "a basic instruction kept twice").toEqual([]);
  expect(repeated(kept.map((pair) => pair.id))).toEqual([]);
  for (const pair of kept) {
    expect(pair.instruction.trim()).not.toBe("");
    expect(pair.response.trim()).not.toBe("");
    expect(pair.answers.strong?.trim()).toBeTruthy();
    expect(pair.answers.target?.trim()).toBeTruthy();
    for (const side of [pair.scores!.strong, pair.scores!.target]) {
      expect(side).toBeGreaterThanOrEqual(1);
      expect(side).toBeLessThanOrEqual(10);
    }
  }
  // Every failure has its step and its error, and the summary counts them by step.
  const failures = dropped.filter((record) => record.reason === "failure");
  for (const record of failures) {
    expect(record.step, JSON.stringify(record)).toBeTruthy();
    expect(record.error?.trim()).toBeTruthy();
  }
  expect(summary.failures).toEqual(countBy(failures, (record) => record.step!));
  expect(summary.dropped).toEqual(countBy(dropped, (record) => record.reason));
  expect(summary.kept).toBe(kept.length);
}

/** No two kept basic instructions, nor one and a seed, are near-duplicates by the hand-written ROUGE-L. */
function expectNoNearDuplicates(state: FinalState, inputSeeds: Seed[], threshold = 0.7) {
  const texts = state.kept.map((pair) => pair.lineage.basicInstruction);
  const pairs: string[] = [];
  for (let i = 0; i < texts.length; i++) {
    for (const seed of inputSeeds)
      if (rougeL(texts[i]!, seed.instruction) > threshold) pairs.push(`${texts[i]} ~ seed ${seed.id}`);
    for (let j = i + 1; j < texts.length; j++)
      if (rougeL(texts[i]!, texts[j]!) > threshold) pairs.push(`${texts[i]} ~ ${texts[j]}`);
  }
  expect(pairs).toEqual([]);
}

describe("the test's own ROUGE-L oracle", () => {
  it.each(HAND_COMPUTED_ROUGE_L)("%s ~ %s = %d (computed by hand)", (a, b, expected) => {
    expect(rougeL(a, b)).toBeCloseTo(expected, 12);
  });
});

/** Every kind of misbehaviour at once, on 30% of prompts, each prompt's first attempt only. */
const EVERY_MISBEHAVIOUR = {
  repeatRate: 0.3,
  verdicts: ["missing", "zero-based", "duplicate", "float", "string"],
  fewerActions: true,
  unchangedImprovements: true,
  emptyAnswers: true,
  scores: ["out-of-range", "string"],
  rate: 0.3,
  badAttempts: 1,
} satisfies Parameters<typeof createAdversary>[0];

describe("adversarial responder: repeated instructions", () => {
  it("a strong model that repeats 30% of its instructions (earlier rounds, other metadata, exact and near) never gets a repeat kept", async () => {
    const inputSeeds = seeds(10);
    const adversary = createAdversary({ repeatRate: 0.3 });
    const state = await run(
      { models: adversarialModels(adversary) },
      { seeds: inputSeeds },
      // expectedKeepRate 1: a first round of size / pool, so that repeats of earlier rounds can occur.
      { size: 40, poolSize: 10, seed: 3, expectedKeepRate: 1 },
    );
    // the adversary really did each kind of repeat
    for (const kind of ["stock:exact", "stock:near"])
      expect(adversary.counts[`repeat:${kind}`] ?? 0, kind).toBeGreaterThan(0);
    const earlierRounds =
      (adversary.counts["repeat:earlier-round:exact"] ?? 0) + (adversary.counts["repeat:earlier-round:near"] ?? 0);
    expect(earlierRounds).toBeGreaterThan(0);
    expect(state.summary.instructions.rounds).toBeGreaterThan(1);
    expectTrustworthy(state, 40);
    expect(state.kept).toHaveLength(40);
    expectNoNearDuplicates(state, inputSeeds);
    // the summary counts what the filter dropped, and each drop names what it repeats
    const nearDuplicates = state.dropped.filter((record) => record.reason === "near-duplicate");
    expect(nearDuplicates.length).toBeGreaterThan(0);
    expect(state.summary.dropped["near-duplicate"]).toBe(nearDuplicates.length);
    for (const record of nearDuplicates) expect(record.duplicateOf).toBeTruthy();
    // at most one copy of each stock instruction (exact or near) was kept
    for (const stock of STOCK_INSTRUCTIONS) {
      const copies = state.kept.filter((pair) => rougeL(pair.lineage.basicInstruction, stock) > 0.7);
      expect(copies.length, stock).toBeLessThanOrEqual(1);
    }
  });

  it("an instruction of another metadata, repeated word for word in a later round, is not kept twice", async () => {
    const inputSeeds = seeds(10);
    const adversary = createAdversary({ repeatRate: 0.3, repeatFrom: "stock", repeatKind: "exact" });
    const state = await run(
      { models: adversarialModels(adversary) },
      { seeds: inputSeeds },
      { size: 60, poolSize: 20, seed: 3, instructionsPerMetadata: 2 },
    );
    expect(state.summary.instructions.rounds).toBeGreaterThan(1);
    expectTrustworthy(state, 60);
    expectNoNearDuplicates(state, inputSeeds);
  });

  it("near copies of a metadata's earlier-round instructions, past its last 20, are not kept", async () => {
    const inputSeeds = seeds(3);
    const adversary = createAdversary({ repeatRate: 0.3, repeatFrom: "earlier", repeatKind: "near" });
    const state = await run(
      { models: adversarialModels(adversary) },
      { seeds: inputSeeds },
      { size: 100, poolSize: 3, seed: 4, instructionsPerMetadata: 5, plausibilityCheck: false },
    );
    expect(state.summary.instructions.rounds).toBeGreaterThan(2);
    expect(adversary.counts["repeat:earlier-round:near"]).toBeGreaterThan(0);
    expectTrustworthy(state, 100);
    expectNoNearDuplicates(state, inputSeeds);
  });
});

describe("adversarial responder: broken plausibility verdicts", () => {
  const verdictFaults: VerdictFault[] = ["missing", "zero-based", "duplicate", "float", "string"];
  const context = { size: 12, poolSize: 10, seed: 6 };

  it.each(verdictFaults)(
    "a reply with %s indices is retried; the pool is the one well-formed replies give",
    async (fault) => {
      const reference = await run({ models: scriptedModels() }, { seeds: seeds(5) }, context);
      const adversary = createAdversary({ verdicts: [fault], rate: 1, badAttempts: 1 });
      const state = await run({ models: adversarialModels(adversary) }, { seeds: seeds(5) }, context);
      expect(adversary.counts[`verdicts:${fault}`]).toBeGreaterThan(0);
      expect(state.pool.map(metadataKey)).toEqual(reference.pool.map(metadataKey));
      expect(state.pool.filter((entry) => entry.origin === "augmented").length).toBeGreaterThan(0);
      expect(state.dropped.filter((record) => record.step === "pool-check")).toEqual([]);
      expectTrustworthy(state, 12);
    },
  );

  it("a check that never answers well is recorded by step, and the run says mix-and-match was off", async () => {
    const adversary = createAdversary({
      verdicts: ["zero-based", "string", "duplicate"],
      rate: 1,
      badAttempts: Infinity,
    });
    // The fault is drawn from the prompt: without spare candidates, each batch draws an unrepairable one.
    const state = await run(
      { models: adversarialModels(adversary) },
      { seeds: seeds(5) },
      { ...context, plausibilitySpare: 0 },
    );
    const failed = state.dropped.filter((record) => record.step === "pool-check");
    expect(failed.length).toBeGreaterThan(0);
    for (const record of failed) expect(record.reason).toBe("failure");
    expectTrustworthy(state, 12);
    // issue 9 point 2: the final message and the summary say that mix-and-match was (partly) off
    expect(`${state.stopReason}\n${JSON.stringify(state.summary)}`).toMatch(/mix-and-match/i);
  });
});

describe("adversarial responder: rubrics, improvements, answers", () => {
  const context = { size: 16, poolSize: 8, seed: 11 };

  it.each<[string, AdversarialOptions, string]>([
    ["fewer actions than rubrics", { fewerActions: true }, "fewer-actions"],
    ["unchanged improvements", { unchangedImprovements: true }, "unchanged-improvement"],
    ["empty or whitespace answers", { emptyAnswers: true }, "empty-answer"],
  ])("%s, once per prompt: retried, exactly size kept, no failure", async (_name, options, counter) => {
    const adversary = createAdversary({ ...options, rate: 1, badAttempts: 1 });
    const state = await run({ models: adversarialModels(adversary) }, { seeds: seeds(6) }, context);
    expect(adversary.counts[counter]).toBeGreaterThan(0);
    expectTrustworthy(state, 16);
    expect(state.kept).toHaveLength(16);
    expect(state.dropped.filter((record) => record.reason === "failure")).toEqual([]);
    expect(state.summary.calls.total.failedCalls).toBeGreaterThan(0); // the bad replies were metered, not hidden
    for (const pair of state.kept) {
      const passes = pair.lineage.iterations.map((pass) => pass.instruction.trim());
      expect(new Set(passes).size, "an improvement that changed nothing").toBe(passes.length);
    }
  });

  it.each<[string, AdversarialOptions, string[]]>([
    ["fewer actions than rubrics", { fewerActions: true, rate: 0.5 }, ["rubric-generate"]],
    ["unchanged improvements", { unchangedImprovements: true, rate: 0.5 }, ["action-apply"]],
    ["empty or whitespace answers", { emptyAnswers: true, rate: 0.2 }, ["answer-strong", "answer-target"]],
  ])("%s, always: each failure recorded with its step; size kept or the reason said", async (_name, options, steps) => {
    const adversary = createAdversary({ ...options, badAttempts: Infinity });
    const state = await run({ models: adversarialModels(adversary) }, { seeds: seeds(6) }, context);
    const failures = state.dropped.filter((record) => record.reason === "failure");
    expect(failures.length).toBeGreaterThan(0);
    for (const record of failures) expect(steps).toContain(record.step);
    expectTrustworthy(state, 16);
  });
});

describe("adversarial responder over HTTP", () => {
  const servers: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  const roles = (url: string) => ({
    strong: { model: "openai:strong-model", baseUrl: url },
    target: { model: "openai:target-model", baseUrl: url },
  });

  it("out-of-range and string scores are retried, never averaged into a verdict", async () => {
    const adversary = createAdversary({ scores: ["out-of-range", "string"], rate: 1, badAttempts: 1 });
    const server = await startCodecServer({ adversary });
    servers.push(server);
    const state = await run(
      { env: {}, maxRetries: 0 },
      { seeds: seeds(4) },
      { ...roles(server.url), size: 8, poolSize: 4, seed: 2 },
    );
    expect(adversary.counts["scores:out-of-range"]).toBeGreaterThan(0);
    expect(adversary.counts["scores:string"]).toBeGreaterThan(0);
    expectTrustworthy(state, 8);
    expect(state.kept).toHaveLength(8);
    for (const pair of state.kept) {
      for (const raw of [pair.rawScores!.strongFirst, pair.rawScores!.targetFirst]) {
        for (const score of [raw.strong, raw.target]) {
          expect(Number.isInteger(score)).toBe(true);
          expect(score).toBeGreaterThanOrEqual(1);
          expect(score).toBeLessThanOrEqual(10);
        }
      }
    }
  });

  it("a judge that keeps sending bad scores for some instructions: recorded as judge failures", async () => {
    const adversary = createAdversary({ scores: ["out-of-range", "string"], rate: 0.3, badAttempts: Infinity });
    const server = await startCodecServer({ adversary });
    servers.push(server);
    const state = await run(
      { env: {}, maxRetries: 0 },
      { seeds: seeds(4) },
      { ...roles(server.url), size: 8, poolSize: 4, seed: 2 },
    );
    const failures = state.dropped.filter((record) => record.reason === "failure");
    expect(failures.length).toBeGreaterThan(0);
    for (const record of failures) expect(record.step).toBe("judge");
    expectTrustworthy(state, 8);
  });

  it("everything at once, with repeats: exactly size kept, no repeat, failures by step", async () => {
    const inputSeeds = seeds(8);
    const adversary = createAdversary(EVERY_MISBEHAVIOUR);
    const server = await startCodecServer({
      adversary,
      faults: { rate: 0.05, kinds: ["500", "503", "malformed-json"] },
      seed: 3,
    });
    servers.push(server);
    const state = await run(
      { env: {}, maxRetries: 0 },
      { seeds: inputSeeds },
      { ...roles(server.url), size: 30, poolSize: 12, seed: 5, concurrency: 8 },
    );
    expectTrustworthy(state, 30);
    expect(state.kept).toHaveLength(30);
    expectNoNearDuplicates(state, inputSeeds);
  });

  it("through Gemini's protocol too: broken verdicts, bad scores and repeats from the strong side", async () => {
    const inputSeeds = seeds(6);
    const adversary = createAdversary({
      repeatRate: 0.3,
      verdicts: ["zero-based", "string", "missing"],
      scores: ["out-of-range", "string"],
      fewerActions: true,
      rate: 0.4,
      badAttempts: 1,
    });
    const reply = (role: "strong" | "target", request: { messages: Array<{ content: string }> }) => {
      const value = adversary.reply(role, request.messages.map((message) => message.content).join("\n"));
      return typeof value === "string" ? { text: value } : { json: value };
    };
    const gemini = await startGeminiServer({
      respond: (request) => reply("strong", request),
      models: ["gemini-2.5-flash"],
    });
    const openai = await startCodecServer({ adversary });
    servers.push(gemini, openai);
    const state = await run(
      { env: { GOOGLE_API_KEY: "gemini-test-key-0000" }, maxRetries: 0 },
      { seeds: inputSeeds },
      {
        strong: { model: "google-genai:gemini-2.5-flash", baseUrl: gemini.url },
        target: { model: "openai:target-model", baseUrl: openai.url },
        size: 16,
        poolSize: 8,
        seed: 8,
      },
    );
    expect(gemini.requests.length).toBeGreaterThan(0);
    expectTrustworthy(state, 16);
    expect(state.kept).toHaveLength(16);
    expectNoNearDuplicates(state, inputSeeds);
  });
});

describe("adversarial responder under the CLI", () => {
  it("codeclm generate against a misbehaving endpoint: exactly size lines, no repeat, failures by step in the files", async () => {
    const dir = await mkdtemp(join(tmpdir(), "codeclm-adversarial-"));
    const seedsFile = join(dir, "seeds.jsonl");
    const inputSeeds = seeds(10);
    await writeFile(seedsFile, inputSeeds.map((seed) => JSON.stringify(seed)).join("\n"));
    const adversary = createAdversary(EVERY_MISBEHAVIOUR);
    const server = await startCodecServer({ adversary, faults: { rate: 0.03, kinds: ["500", "503"] }, seed: 4 });
    try {
      const out = join(dir, "data.jsonl");
      const result = await runCli(
        generateArgs({ seeds: seedsFile, out, size: 40, pool: 12, seed: 2, concurrency: 8 }, "--quiet"),
        serverEnv(server, "sk-test-adversarial-0123456789"),
      );
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      const kept = (await readJsonl(out)) as KeptPair[];
      const dropped = (await readJsonl(join(dir, "data.dropped.jsonl"))) as DroppedRecord[];
      const summary = JSON.parse(await readFile(join(dir, "data.summary.json"), "utf8")) as RunSummary;
      expectTrustworthy(
        { kept, dropped, summary, stopReason: summary.stopReason ?? "", pool: [], runId: summary.runId },
        40,
      );
      expect(kept).toHaveLength(40);
      expectNoNearDuplicates({ kept } as FinalState, inputSeeds);
    } finally {
      await server.close();
    }
  }, 180_000);
});
