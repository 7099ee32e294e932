import { setMaxListeners } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import type { CodecState } from "../../nodes/state.js";
import { resolveConfig } from "../../lib/config.js";
import { emptyProgress } from "../../lib/tasks.js";
import { type EncodedSeed, poolMakeup, repairVerdicts, verdictsByLine } from "../../lib/pool.js";
import { KeptPairSchema, type Seed } from "../../lib/records.js";
import type { RunSummary } from "../../lib/summary.js";
import { ModelFactory } from "../../models/factory.js";
import { buildPool, poolCheckSchema } from "../../nodes/build-pool.js";
import { runtimeFor } from "../../nodes/runtime.js";
import { codecReply } from "../support/codec-responder.js";
import { type FakeGeminiServer, startGeminiServer } from "../support/gemini-server.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";
import { ScriptedChatModel } from "../support/scripted-model.js";

setMaxListeners(0);

describe("repairing a plausibility reply (lib/pool.ts)", () => {
  const verdicts = (indexes: number[], plausible = true) => indexes.map((index) => ({ index, plausible, reason: "r" }));
  const indexesOf = (result: ReturnType<typeof repairVerdicts>) =>
    "verdicts" in result ? result.verdicts.map((v) => v.index) : result.problem;

  it("shifts a reply numbered from 0 to the prompt's 1-based lines", () => {
    expect(indexesOf(repairVerdicts(verdicts([0, 1, 2]), 3))).toEqual([1, 2, 3]);
    expect(indexesOf(repairVerdicts(verdicts([0, 2]), 3))).toEqual([1, 3]); // partial, still unambiguous
  });

  it("keeps 1-based replies, and refuses one that uses both 0 and the last line", () => {
    expect(indexesOf(repairVerdicts(verdicts([1, 2, 3]), 3))).toEqual([1, 2, 3]);
    expect(indexesOf(repairVerdicts(verdicts([0, 1, 2, 3]), 3))).toMatch(/line numbers run from 0 to 3/);
  });

  it("keeps a repeated verdict once and refuses a line with two different verdicts", () => {
    expect(indexesOf(repairVerdicts(verdicts([1, 1, 2]), 3))).toEqual([1, 2]);
    const conflicting = [...verdicts([2]), ...verdicts([2], false)];
    expect(indexesOf(repairVerdicts(conflicting, 3))).toMatch(/two different verdicts for line\(s\) 2/);
    expect(verdictsByLine(verdicts([3]), 3).missing).toEqual([1, 2]);
  });

  it("the validating schema: integers 0..lines (0 only for the repair), at most `lines` verdicts, at least one", () => {
    const schema = poolCheckSchema(3);
    const reply = (indexes: number[]) => ({ verdicts: verdicts(indexes) });
    expect(schema.safeParse(reply([0, 1, 2])).success).toBe(true);
    expect(schema.safeParse(reply([1.5])).success).toBe(false);
    expect(schema.safeParse(reply([4])).success).toBe(false);
    expect(schema.safeParse(reply([-1])).success).toBe(false);
    expect(schema.safeParse(reply([])).success).toBe(false);
    expect(schema.safeParse(reply([1, 2, 3, 1])).success).toBe(false);
    expect(schema.safeParse({ verdicts: [{ index: "1", plausible: true, reason: "" }] }).success).toBe(false);
    expect(poolCheckSchema(3)).toBe(schema); // one object per batch size: the factory's cache holds
  });
});

describe("pool make-up and the mix-and-match alert", () => {
  it("is on when the check works, with skills per metadata", () => {
    const makeup = poolMakeup(
      {
        seedMetadata: 20,
        augmented: 40,
        implausible: 3,
        checked: 43,
        checkFailed: 0,
        requested: 60,
        size: 60,
        "skills:1": 10,
        "skills:2": 30,
        "skills:3": 20,
      },
      0.5,
    );
    expect(makeup).toMatchObject({
      seed: 20,
      augmented: 40,
      rejected: 3,
      failed: 0,
      mixAndMatch: "on",
      skillsPerMetadata: { 1: 10, 2: 30, 3: 20 },
    });
    expect(makeup.warning).toBeUndefined();
  });

  it("is off or partly off when the check fails for at least the alert share, and says why", () => {
    const off = poolMakeup(
      { seedMetadata: 20, augmented: 0, checked: 40, checkFailed: 40, checkMalformed: 40, requested: 60, size: 20 },
      0.5,
    );
    expect(off.mixAndMatch).toBe("off");
    expect(off.warning).toMatch(
      /^mix-and-match was off: the plausibility check failed for 40 of 40 mixed candidates \(40 malformed or incomplete replies; .*only the seeds' own metadata \(20 of 60 requested\)/,
    );
    const partly = poolMakeup(
      { seedMetadata: 20, augmented: 15, checked: 40, checkFailed: 25, checkMalformed: 5, requested: 60, size: 35 },
      0.5,
    );
    expect(partly.mixAndMatch).toBe("partly off");
    expect(partly.warning).toMatch(/5 malformed or incomplete replies, 20 failed calls/);
    expect(
      poolMakeup({ seedMetadata: 20, augmented: 15, checked: 40, checkFailed: 25, requested: 60, size: 35 }, 0.9)
        .mixAndMatch,
    ).toBe("on");
    expect(poolMakeup({ user: 5, size: 5 }, 0.5).mixAndMatch).toBe("not used");
    // failures replaced by fresh candidates until the pool is full: nothing to report
    expect(
      poolMakeup({ seedMetadata: 20, augmented: 40, checked: 90, checkFailed: 50, requested: 60, size: 60 }, 0.5),
    ).toMatchObject({ mixAndMatch: "on" });
  });
});

describe("build-pool with a plausibility check that replies in unexpected ways", () => {
  const SEEDS = ["s0", "s1", "s2", "s3"].map((id) => ({ id, instruction: `seed ${id}` }));
  const ENCODED: EncodedSeed[] = [
    { seedId: "s0", useCase: "general knowledge QA", skills: ["history", "geography"] },
    { seedId: "s1", useCase: "code generation", skills: ["python", "algorithms"] },
    { seedId: "s2", useCase: "data analysis", skills: ["statistics", "sql"] },
    { seedId: "s3", useCase: "creative writing", skills: ["storytelling", "humor"] },
  ];
  const state = () =>
    ({ seeds: SEEDS, encoded: ENCODED, runId: "r", progress: emptyProgress() }) as unknown as CodecState;
  const linesOf = (prompt: string) => prompt.split("\n").filter((line) => /^\d+\. use case:/.test(line));
  const checkModel = (reply: (lines: string[], call: number) => unknown) =>
    new ScriptedChatModel((prompt, call) => reply(linesOf(prompt), call) as Record<string, unknown>);

  it("accepts a reply numbered from 0 (was: every candidate a failure)", async () => {
    const model = checkModel((lines) => ({
      verdicts: lines.map((_, k) => ({ index: k, plausible: true, reason: "ok" })),
    }));
    const update = await buildPool(
      state(),
      runtimeFor({ poolSize: 20, plausibilityBatchSize: 5 }, { models: { strong: model, target: model } }),
    );
    expect(update.poolStats).toMatchObject({ augmented: 16, checkFailed: 0, size: 20 });
    expect(model.calls).toHaveLength(4);
  });

  it("asks again about the lines a reply left out, in a batch of their own", async () => {
    const model = checkModel((lines) => ({
      verdicts: lines
        .slice(0, Math.max(1, lines.length - 2))
        .map((_, k) => ({ index: k + 1, plausible: true, reason: "ok" })),
    }));
    const update = await buildPool(
      state(),
      runtimeFor(
        { poolSize: 10, plausibilityBatchSize: 6, plausibilitySpare: 0 },
        { models: { strong: model, target: model } },
      ),
    );
    expect(update.poolStats).toMatchObject({ augmented: 6, checkFailed: 0, size: 10 });
    // 6 lines: 4 answered; the 2 left out are asked again (1 answered), then the last one alone
    expect(model.calls.map((call) => linesOf(call.prompt).length)).toEqual([6, 2, 1]);
  });

  it("checks spare candidates in the same round, so a rejection costs no second round", async () => {
    // Every reply rejects its first line; 16 candidates are needed (20 minus 4 seed metadata).
    const model = checkModel((lines) => ({
      verdicts: lines.map((_, k) => ({ index: k + 1, plausible: k > 0, reason: k > 0 ? "ok" : "odd" })),
    }));
    const update = await buildPool(
      state(),
      runtimeFor({ poolSize: 20, plausibilityBatchSize: 5 }, { models: { strong: model, target: model } }),
    );
    // ceil(16 × 1.1) = 18, in whole batches: 20 candidates, 4 calls at once, 16 plausible: the pool is full.
    expect(model.calls.map((call) => linesOf(call.prompt).length)).toEqual([5, 5, 5, 5]);
    expect(update.poolStats).toMatchObject({ augmented: 16, implausible: 4, checked: 20, size: 20 });
    const without = checkModel((lines) => ({
      verdicts: lines.map((_, k) => ({ index: k + 1, plausible: k > 0, reason: k > 0 ? "ok" : "odd" })),
    }));
    await buildPool(
      state(),
      runtimeFor(
        { poolSize: 20, plausibilityBatchSize: 5, plausibilitySpare: 0 },
        { models: { strong: without, target: without } },
      ),
    );
    // Without spares: 16 candidates, 4 rejected, then a second round for the 4 missing.
    expect(without.calls.length).toBeGreaterThan(4);
  });

  it("keeps candidate order whatever order the verdicts come in", async () => {
    const forward = checkModel((lines) => ({
      verdicts: lines.map((_, k) => ({ index: k + 1, plausible: true, reason: "ok" })),
    }));
    const backward = checkModel((lines) => ({
      verdicts: lines.map((_, k) => ({ index: k + 1, plausible: true, reason: "ok" })).reverse(),
    }));
    const poolOf = async (model: ScriptedChatModel) =>
      (
        await buildPool(
          state(),
          runtimeFor({ poolSize: 16, plausibilityBatchSize: 5 }, { models: { strong: model, target: model } }),
        )
      ).pool!;
    expect(await poolOf(backward)).toEqual(await poolOf(forward));
  });

  it("a line still without a verdict after the re-asks is a failure, never a verdict", async () => {
    const model = checkModel((lines) => ({
      verdicts:
        lines.length > 1
          ? [{ index: 1, plausible: true, reason: "ok" }]
          : [{ index: 1, plausible: true, reason: "ok" }].slice(0, 0),
    }));
    const update = await buildPool(
      state(),
      runtimeFor(
        { poolSize: 6, plausibilityBatchSize: 2, structuredRetries: 0 },
        { models: { strong: model, target: model } },
      ),
    );
    const failures = update.dropped!.filter((record) => record.reason === "failure");
    expect(failures.length).toBeGreaterThan(0);
    for (const record of failures) expect(record).toMatchObject({ step: "pool-check", kind: "metadata" });
    expect(update.poolStats!.checkFailed).toBe(failures.length);
  });

  it("a check that never validates: every candidate a failure, one round only, reported as mix-and-match off", async () => {
    const model = checkModel((lines) => ({
      verdicts: lines.map((_, k) => ({ index: `line ${k + 1}`, plausible: true, reason: "ok" })),
    }));
    const update = await buildPool(
      state(),
      runtimeFor(
        { poolSize: 30, plausibilityBatchSize: 10, structuredRetries: 1, plausibilitySpare: 0 },
        { models: { strong: model, target: model } },
      ),
    );
    expect(update.pool!.every((entry) => entry.origin === "seed")).toBe(true);
    expect(update.poolStats).toMatchObject({
      seedMetadata: 4,
      augmented: 0,
      checked: 26,
      checkFailed: 26,
      checkMalformed: 26,
      size: 4,
    });
    expect(model.calls).toHaveLength(3 * 2); // 3 batches × (1 + 1 retry): no second round of fresh candidates
    const makeup = poolMakeup(update.poolStats!, 0.5);
    expect(makeup.mixAndMatch).toBe("off");
    expect(makeup.warning).toMatch(/mix-and-match was off: the plausibility check failed for 26 of 26/);
  });
});

describe("the schema the factory sends for the plausibility check", () => {
  let openai: FakeOpenAIServer;
  let gemini: FakeGeminiServer;
  const verdicts = { verdicts: [1, 2, 3, 4].map((index) => ({ index, plausible: true, reason: "ok" })) };
  beforeAll(async () => {
    openai = await startOpenAIServer({ respond: () => ({ json: verdicts }) });
    gemini = await startGeminiServer({ respond: () => ({ json: verdicts }) });
  });
  afterAll(async () => {
    await openai.close();
    await gemini.close();
  });

  /** Keywords Gemini's responseSchema rejects (unions, literals, nullables, exclusive bounds, refs). */
  const FORBIDDEN = [
    "anyOf",
    "oneOf",
    "allOf",
    "const",
    "nullable",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "$ref",
    "not",
  ];
  const keysOf = (value: unknown): string[] =>
    value && typeof value === "object" ? Object.entries(value).flatMap(([key, inner]) => [key, ...keysOf(inner)]) : [];

  for (const provider of ["openai", "google-genai"] as const) {
    it(`${provider}: integer line numbers 1..batch, at most one verdict per line, nothing Gemini rejects`, async () => {
      const server = provider === "openai" ? openai : gemini;
      const config = resolveConfig({
        strong: { model: `${provider}:checker`, baseUrl: provider === "openai" ? `${openai.url}` : gemini.url },
        target: { model: "openai:t", baseUrl: openai.url },
      });
      const factory = ModelFactory.fromConfig(config, {
        env: { OPENAI_API_KEY: "sk-test-pool-0123456789", GOOGLE_API_KEY: "g-test-pool-0123456789" },
      });
      server.reset();
      await factory.load();
      await factory
        .structured("strong", { temperature: 0, maxTokens: 256 }, poolCheckSchema(4), "plausibility_verdicts")
        .invoke([["human", "check"]]);
      const schema = server.requests[0]!.schema as {
        properties: { verdicts: { maxItems: number; items: { properties: { index: Record<string, unknown> } } } };
      };
      expect(schema.properties.verdicts.items.properties.index).toMatchObject({
        type: "integer",
        minimum: 1,
        maximum: 4,
      });
      expect(schema.properties.verdicts.maxItems).toBe(4);
      for (const key of FORBIDDEN) expect(keysOf(schema), key).not.toContain(key);
    });
  }
});

describe("24 seeds, --pool 60 (issue 9, Done when)", () => {
  const SEEDS: Seed[] = Array.from({ length: 24 }, (_, i) => ({
    id: `s${i}`,
    instruction: `Seed instruction ${i}: ${["write a poem", "sort a list", "explain a tax", "plan a trip"][i % 4]} number ${i * 37}`,
  }));

  it("mixed metadata make up most of the pool and a proportional share of the kept pairs", async () => {
    const strong = new ScriptedChatModel((prompt) => codecReply("strong", prompt));
    const target = new ScriptedChatModel((prompt) => codecReply("target", prompt));
    const graph = createCodecGraph({ models: { strong, target } });
    const state = await graph.invoke(
      { seeds: SEEDS },
      { context: resolveConfig({ size: 60, poolSize: 60, seed: 4, concurrency: 4 }), recursionLimit: 1000 },
    );
    const summary = state.summary as unknown as RunSummary;
    const makeup = summary.poolMakeup!;
    expect(makeup.size).toBe(60);
    expect(makeup.augmented).toBeGreaterThan(makeup.size / 2);
    expect(makeup.mixAndMatch).toBe("on");
    expect(Object.values(makeup.skillsPerMetadata).reduce((a, b) => a + b, 0)).toBe(60);
    const kept = state.kept.map((pair) => KeptPairSchema.parse(JSON.parse(JSON.stringify(pair))));
    expect(kept).toHaveLength(60);
    const mixedShare = kept.filter((pair) => pair.lineage.metadataOrigin === "augmented").length / kept.length;
    expect(Math.abs(mixedShare - makeup.augmented / makeup.size)).toBeLessThan(0.15);
  });
});
