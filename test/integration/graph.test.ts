import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import type { CodecConfigInput } from "../../lib/config.js";
import { metadataKey } from "../../lib/pool.js";
import {
  type DroppedRecord,
  DroppedRecordSchema,
  type KeptPair,
  KeptPairSchema,
  type Metadata,
  type Seed,
} from "../../lib/records.js";
import type { RunSummary } from "../../lib/summary.js";
import { readBlocks } from "../../prompts/delimit.js";
import { type ScriptedRole, codecReply } from "../support/codec-responder.js";
import { startGeminiServer } from "../support/gemini-server.js";
import { type BaseChatRequest, type Reply, startOpenAIServer } from "../support/openai-server.js";
import { ScriptedChatModel, scriptedModels } from "../support/scripted-model.js";
import { type FinalState, asContext, seeds } from "../support/graph-fixtures.js";

const isJudgePrompt = (prompt: string) => readBlocks(prompt)?.has("ANSWER 1") ?? false;

const THETA = 3;

async function run(
  options: Parameters<typeof createCodecGraph>[0],
  input: { seeds?: Seed[]; metadata?: Metadata[] },
  context: CodecConfigInput,
): Promise<FinalState> {
  const out = await createCodecGraph(options).invoke(input, { context: asContext(context) });
  return out as unknown as FinalState;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

/** The output contract every kept pair must satisfy. */
function expectValidKept(pair: KeptPair, options: { maxIterations?: number; skillsMax?: number } = {}) {
  const maxIterations = options.maxIterations ?? 4;
  expect(() => KeptPairSchema.parse(pair)).not.toThrow();
  expect(pair.id).toBeTruthy();
  expect(pair.instruction.trim()).not.toBe("");
  expect(pair.response.trim()).not.toBe("");
  expect(["strong", "target"]).toContain(pair.source);
  expect(Number.isInteger(pair.iteration)).toBe(true);
  expect(pair.iteration).toBeGreaterThanOrEqual(1);
  expect(pair.iteration).toBeLessThanOrEqual(maxIterations);
  expect(pair.metadata.useCase).toBeTruthy();
  expect(pair.metadata.skills.length).toBeGreaterThanOrEqual(1);
  expect(pair.metadata.skills.length).toBeLessThanOrEqual(options.skillsMax ?? 3);
  // scores
  expect(pair.scores!.gap).toBeCloseTo(pair.scores!.strong - pair.scores!.target, 10);
  expect(Math.abs(pair.scores!.gap)).toBeGreaterThan(THETA);
  expect(pair.source).toBe(pair.scores!.gap > 0 ? "strong" : "target");
  expect(pair.response).toBe(pair.answers[pair.source]);
  const { rawScores } = pair;
  expect(pair.scores!.strong).toBe((rawScores!.strongFirst.strong + rawScores!.targetFirst.strong) / 2);
  expect(pair.scores!.target).toBe((rawScores!.strongFirst.target + rawScores!.targetFirst.target) / 2);
  // lineage
  const { lineage } = pair;
  expect(lineage.seedIds.length + (lineage.metadataOrigin === "user" ? 1 : 0)).toBeGreaterThan(0);
  expect(lineage.actions).toHaveLength(pair.iteration - 1);
  expect(lineage.iterations).toHaveLength(pair.iteration);
  expect(lineage.iterations.map((it) => it.iteration)).toEqual(Array.from({ length: pair.iteration }, (_, i) => i + 1));
  expect(lineage.iterations[0]!.instruction).toBe(lineage.basicInstruction);
  expect(lineage.iterations[0]!.action).toBeUndefined();
  for (let i = 1; i < lineage.iterations.length; i++)
    expect(lineage.iterations[i]!.action).toBe(lineage.actions[i - 1]);
  const last = lineage.iterations.at(-1)!;
  expect(last.instruction).toBe(pair.instruction);
  expect(last.scores).toEqual(pair.scores);
  // every earlier pass was inside the band, which is why it was improved
  for (const earlier of lineage.iterations.slice(0, -1))
    expect(Math.abs(earlier.scores!.gap)).toBeLessThanOrEqual(THETA);
  if (pair.iteration === 1) expect(pair.instruction).toBe(lineage.basicInstruction);
  else expect(pair.instruction).not.toBe(lineage.basicInstruction);
}

/** Summary counters agree with the records the run produced. */
function expectConsistentSummary(state: FinalState) {
  const { summary, kept, dropped } = state;
  expect(summary.kept).toBe(kept.length);
  expect(summary.dropped).toEqual(countBy(dropped, (d) => d.reason));
  const failures = countBy(
    dropped.filter((d) => d.reason === "failure"),
    (d) => d.step ?? "?",
  );
  expect(summary.failures).toEqual(failures);
  expect(summary.keptPerIteration).toEqual(countBy(kept, (k) => String(k.iteration)));
  expect(summary.reverseKept).toBe(kept.filter((k) => k.source === "target").length);
  for (const record of dropped) {
    expect(() => DroppedRecordSchema.parse(record)).not.toThrow();
    expect(record.runId).toBe(state.runId);
    if (record.reason === "failure") {
      expect(record.step).toBeTruthy();
      expect(record.error?.trim()).toBeTruthy();
    }
  }
  for (const pair of kept) expect(pair.runId).toBe(state.runId);
}

describe("whole graph with scripted models", () => {
  it("keeps exactly `size` pairs, each satisfying the output contract", async () => {
    const state = await run({ models: scriptedModels() }, { seeds: seeds(8) }, { size: 20, poolSize: 10, seed: 1 });
    expect(state.kept).toHaveLength(20);
    expect(state.summary.status).toBe("complete");
    expect(state.stopReason).toMatch(/reached the requested size \(20/);
    for (const pair of state.kept) expectValidKept(pair);
    expect(new Set(state.kept.map((k) => k.id)).size).toBe(20);
    expect(new Set(state.kept.map((k) => k.instruction)).size).toBe(20);
    const seedIds = new Set(seeds(8).map((s) => s.id));
    for (const pair of state.kept) for (const id of pair.lineage.seedIds) expect(seedIds.has(id)).toBe(true);
    expect(state.pool).toHaveLength(10);
    expectConsistentSummary(state);
    expect(state.summary.calls.total.calls).toBeGreaterThan(0);
    expect(state.summary.calls.byRole.judge!.calls).toBeGreaterThan(0);
  });

  it("over a larger run keeps pairs from every iteration, and drops at the cap after 4 passes", async () => {
    const state = await run({ models: scriptedModels() }, { seeds: seeds(12) }, { size: 80, poolSize: 20, seed: 7 });
    expect(state.kept).toHaveLength(80);
    for (const pair of state.kept) expectValidKept(pair);
    const iterations = new Set(state.kept.map((k) => k.iteration));
    expect([...iterations].sort()).toEqual([1, 2, 3, 4]);
    // Figure 3: most kept data comes from the first iteration
    expect(state.kept.filter((k) => k.iteration === 1).length).toBeGreaterThan(state.kept.length / 2);
    expect(state.kept.some((k) => k.source === "target")).toBe(true);

    const capped = state.dropped.filter((d) => d.reason === "max-iterations");
    expect(capped.length).toBeGreaterThan(0);
    for (const record of capped) {
      expect(record.kind).toBe("instruction");
      expect(record.lineage!.iterations).toHaveLength(4);
      expect(record.lineage!.actions).toHaveLength(3);
      for (const pass of record.lineage!.iterations) expect(Math.abs(pass.scores!.gap)).toBeLessThanOrEqual(THETA);
      expect(record.instruction).toBe(record.lineage!.iterations[3]!.instruction);
    }
    // Nothing past the pair that reached the size is written: which of those ran depends on timing.
    expect(state.dropped.some((d) => d.reason === "surplus")).toBe(false);
    // Decode ahead: the first round was sized for a keep rate of 0.5; what no wave needed was never answered.
    const { decoded, filtered, notNeeded, pastSize = 0 } = state.summary.instructions;
    expect(notNeeded).toBeGreaterThan(0);
    expect(filtered + notNeeded! + pastSize).toBeLessThanOrEqual(decoded);
    expectConsistentSummary(state);
  });

  it("respects a smaller iteration cap", async () => {
    const state = await run(
      { models: scriptedModels() },
      { seeds: seeds(6) },
      { size: 15, poolSize: 8, seed: 2, maxIterations: 2 },
    );
    expect(state.kept).toHaveLength(15);
    for (const pair of state.kept) expectValidKept(pair, { maxIterations: 2 });
    expect(state.kept.some((pair) => pair.iteration === 2)).toBe(true);
    const capped = state.dropped.filter((d) => d.reason === "max-iterations");
    expect(capped.length).toBeGreaterThan(0);
    for (const record of capped) expect(record.lineage!.iterations).toHaveLength(2);
  });

  it("same seed twice gives identical kept data; a different seed gives a different pool", async () => {
    const context = { size: 15, poolSize: 10 };
    // Records compared as records, in order: every field but the run id.
    const project = (state: FinalState) => ({
      kept: state.kept.map(({ runId: _runId, ...pair }) => pair),
      dropped: state.dropped.map(({ runId: _runId, ...record }) => record),
      pool: state.pool.map(metadataKey),
    });
    const a = await run({ models: scriptedModels() }, { seeds: seeds(8) }, { ...context, seed: 5 });
    const b = await run({ models: scriptedModels() }, { seeds: seeds(8) }, { ...context, seed: 5 });
    const c = await run({ models: scriptedModels() }, { seeds: seeds(8) }, { ...context, seed: 6 });
    expect(a.runId).not.toBe(b.runId);
    expect(project(b)).toEqual(project(a));
    expect(project(c).pool).not.toEqual(project(a).pool);
  });

  it("the wave size and the concurrency do not change the data: outcomes are settled in dispatch order", async () => {
    const project = (state: FinalState) => ({
      kept: state.kept.map(({ runId: _runId, ...pair }) => pair),
      dropped: state.dropped.map(({ runId: _runId, ...record }) => record),
    });
    const context = { size: 15, poolSize: 10, seed: 5 };
    const waves = await run({ models: scriptedModels() }, { seeds: seeds(8) }, { ...context, waveLimit: 3 });
    const one = await run({ models: scriptedModels() }, { seeds: seeds(8) }, { ...context, concurrency: 64 });
    expect(waves.kept).toHaveLength(15);
    expect(waves.dropped.length).toBeGreaterThan(0);
    expect(project(one)).toEqual(project(waves));
  });

  it("a judge biased toward the first position keeps the same pairs (the swap cancels the bias)", async () => {
    const context = { size: 15, poolSize: 8, seed: 9 };
    const plain = await run({ models: scriptedModels() }, { seeds: seeds(6) }, context);
    const biased = await run({ models: scriptedModels({ positionBias: 2 }) }, { seeds: seeds(6) }, context);
    const ids = (state: FinalState) => state.kept.map((k) => `${k.id}|${k.iteration}|${k.source}`);
    expect(ids(biased)).toEqual(ids(plain));
    expect(biased.kept.some((k) => k.rawScores!.strongFirst.strong !== k.rawScores!.targetFirst.strong)).toBe(true);
  });

  it("rejects input with both seeds and metadata, with neither, and an invalid configuration", async () => {
    const graph = createCodecGraph({ models: scriptedModels() });
    await expect(
      graph.invoke(
        { seeds: seeds(1), metadata: [{ useCase: "qa", skills: ["x"] }] },
        { context: asContext({ size: 1 }) },
      ),
    ).rejects.toThrow(/either seed instructions or metadata, not both/);
    await expect(graph.invoke({}, { context: asContext({ size: 1 }) })).rejects.toThrow(/Give seed instructions/);
    await expect(graph.invoke({ seeds: seeds(1) }, { context: asContext({ size: 0 }) })).rejects.toThrow(/size/);
  });

  it("with retainRecords off, streams every record out through node updates and keeps none in state", async () => {
    const context = { size: 12, poolSize: 6, seed: 21 };
    const retained = await run({ models: scriptedModels() }, { seeds: seeds(6) }, context);
    const graph = createCodecGraph({ models: scriptedModels(), retainRecords: false });
    const streamedKept: KeptPair[] = [];
    const streamedDropped: DroppedRecord[] = [];
    let final: Record<string, unknown> = {};
    for await (const chunk of await graph.stream(
      { seeds: seeds(6) },
      { context: asContext(context), streamMode: ["updates", "values"] },
    )) {
      const [mode, payload] = chunk as [string, Record<string, unknown>];
      if (mode === "values") {
        final = payload;
        continue;
      }
      for (const update of Object.values(payload)) {
        const u = (update ?? {}) as { kept?: KeptPair[]; dropped?: DroppedRecord[] };
        streamedKept.push(...(u.kept ?? []));
        streamedDropped.push(...(u.dropped ?? []));
      }
    }
    expect(final.kept).toEqual([]);
    expect(final.dropped).toEqual([]);
    expect((final.summary as RunSummary).kept).toBe(12);
    // record for record, in order, every field but the run id
    const strip = <T extends { runId: string }>(records: T[]) => records.map(({ runId: _runId, ...record }) => record);
    expect(strip(streamedKept)).toEqual(strip(retained.kept));
    expect(strip(streamedDropped)).toEqual(strip(retained.dropped));
  });

  it("takes user-written metadata instead of seeds (no encode, no mixing)", async () => {
    const models = scriptedModels();
    const metadata: Metadata[] = [
      { useCase: "business plan development", skills: ["market research", "finance"] },
      { useCase: "code generation", skills: ["typescript", "testing", "algorithms", "extra skill"] },
      { useCase: "creative writing", skills: ["poetry"] },
    ];
    const state = await run({ models }, { metadata }, { size: 12, seed: 3 });
    expect(state.kept).toHaveLength(12);
    for (const pair of state.kept) {
      expectValidKept(pair);
      expect(pair.lineage.metadataOrigin).toBe("user");
      expect(pair.lineage.seedIds).toEqual([]);
    }
    expect(state.pool.map((e) => e.origin)).toEqual(["user", "user", "user"]);
    expect(state.pool[1]!.skills).toEqual(["typescript", "testing", "algorithms"]);
    const used = new Set(state.kept.map((k) => k.metadata.useCase));
    expect(used.size).toBe(3);
    expect(models.strong.calls.some((c) => c.prompt.includes("You analyse instructions"))).toBe(false);
    expect(models.strong.calls.some((c) => c.prompt.includes("combined at random"))).toBe(false);
    expectConsistentSummary(state);
  });

  it("ends incomplete, and says why, when nothing can pass the filter", async () => {
    const tie = (role: ScriptedRole) =>
      new ScriptedChatModel((prompt) =>
        isJudgePrompt(prompt) ? { assistant1: 5, assistant2: 5 } : codecReply(role, prompt),
      );
    const state = await run(
      { models: { strong: tie("strong"), target: tie("target") } },
      { seeds: seeds(4) },
      { size: 5, poolSize: 4, seed: 1, topUpRounds: 1 },
    );
    expect(state.kept).toHaveLength(0);
    expect(state.summary.status).toBe("incomplete");
    expect(state.stopReason).toBe(state.summary.stopReason);
    expect(state.stopReason).toMatch(/kept 0 of 5/);
    expect(state.stopReason).toMatch(/all 1 top-up rounds are used/);
    expect(state.summary.instructions.rounds).toBe(2);
    const capped = state.dropped.filter((d) => d.reason === "max-iterations");
    expect(capped.length).toBe(state.summary.instructions.filtered);
    expect(capped.length).toBeGreaterThanOrEqual(5);
    for (const record of capped) expect(record.lineage!.iterations).toHaveLength(4);
    expectConsistentSummary(state);
  });

  it("with topUpRounds 0 stops after the first pass", async () => {
    const tie = (role: ScriptedRole) =>
      new ScriptedChatModel((prompt) =>
        isJudgePrompt(prompt) ? { assistant1: 5, assistant2: 6 } : codecReply(role, prompt),
      );
    const state = await run(
      { models: { strong: tie("strong"), target: tie("target") } },
      { seeds: seeds(3) },
      { size: 4, poolSize: 4, seed: 1, topUpRounds: 0 },
    );
    expect(state.summary.status).toBe("incomplete");
    expect(state.summary.instructions.rounds).toBe(1);
    expect(state.stopReason).toMatch(/top-up is off/);
  });

  it("says so when no basic instruction could be decoded", async () => {
    const { target } = scriptedModels();
    const strong = new ScriptedChatModel((prompt) =>
      prompt.includes("diverse instructions that a user might give")
        ? { instructions: [] }
        : codecReply("strong", prompt),
    );
    const state = await run(
      { models: { strong, target } },
      { seeds: seeds(3) },
      { size: 4, poolSize: 3, topUpRounds: 1 },
    );
    expect(state.kept).toEqual([]);
    expect(state.stopReason).toMatch(/no basic instruction could be decoded/);
    const failures = state.dropped.filter((d) => d.step === "decode");
    expect(failures).toHaveLength(6); // 3 metadata x (first round + 1 top-up round)
    for (const record of failures) expect(record).toMatchObject({ kind: "metadata", reason: "failure" });
    expect(new Set(failures.map((d) => d.id)).size).toBe(6);
    expectConsistentSummary(state);
  });

  it("records failures when every model call fails, writes no empty rows, and ends", async () => {
    const failing = () => new ScriptedChatModel(() => new Error("503 upstream unavailable"));
    const state = await run(
      { models: { strong: failing(), target: failing() } },
      { seeds: seeds(5) },
      { size: 10, poolSize: 5 },
    );
    expect(state.kept).toEqual([]);
    expect(state.summary.status).toBe("incomplete");
    expect(state.stopReason).toMatch(/no seed could be encoded/);
    expect(state.dropped).toHaveLength(5);
    for (const record of state.dropped) {
      expect(record).toMatchObject({ kind: "seed", reason: "failure", step: "encode" });
      expect(record.error).toMatch(/503 upstream unavailable/);
      expect(record.seed?.trim()).toBeTruthy();
    }
    expect(state.summary.failures).toEqual({ encode: 5 });
    // Failed calls never got an answer: they count as failed calls, not answered ones.
    expect(state.summary.calls.total).toMatchObject({ calls: 0, failedCalls: 5 });
    expectConsistentSummary(state);
  });

  it("records instruction failures when only the target fails, then gives up", async () => {
    const { strong } = scriptedModels();
    const target = new ScriptedChatModel(() => new Error("connection reset"));
    const state = await run(
      { models: { strong, target } },
      { seeds: seeds(4) },
      { size: 6, poolSize: 4, topUpRounds: 1 },
    );
    expect(state.kept).toEqual([]);
    expect(state.summary.status).toBe("incomplete");
    const failed = state.dropped.filter((d) => d.kind === "instruction");
    expect(failed.length).toBeGreaterThan(0);
    for (const record of failed) {
      expect(record).toMatchObject({ reason: "failure", step: "answer-target" });
      expect(record.instruction?.trim()).toBeTruthy();
      expect(record.error).toMatch(/connection reset/);
    }
    expect(state.summary.failures["answer-target"]).toBe(failed.length);
    expect(state.summary.instructions.rounds).toBe(2);
    expectConsistentSummary(state);
  });

  it("keeps iteration-1 pairs of a metadata whose rubric generation failed; its other instructions fail", async () => {
    const { target } = scriptedModels();
    const strong = new ScriptedChatModel((prompt) =>
      prompt.includes("rubrics: specific criteria") ? new Error("rubric service down") : codecReply("strong", prompt),
    );
    const state = await run(
      { models: { strong, target } },
      { seeds: seeds(4) },
      { size: 8, poolSize: 4, topUpRounds: 1 },
    );
    expect(state.kept.length).toBeGreaterThan(0);
    for (const pair of state.kept) expect(pair.iteration).toBe(1);
    // Rubrics are generated inside filtering when first needed: the instructions that needed them fail.
    expect(state.dropped.filter((d) => d.kind === "metadata")).toEqual([]);
    const needingActions = state.dropped.filter((d) => d.kind === "instruction" && d.reason === "failure");
    expect(needingActions.length).toBeGreaterThan(0);
    for (const record of needingActions) expect(record.step).toBe("rubric-generate");
    expectConsistentSummary(state);
  });
});

// ---------------------------------------------------------------------------------------------------
// Through the real provider clients against the in-process protocol servers
// ---------------------------------------------------------------------------------------------------

const STRONG_MODEL = "strong-llm";
const TARGET_MODEL = "target-llm";

interface Tokens {
  requests: number;
  input: number;
  output: number;
}

/** Answers every CodecLM prompt; strong and target told apart by the requested model. Counts tokens it reports. */
function codecResponder(roleOf: (model: string) => ScriptedRole) {
  const tokens: Record<string, Tokens> = {};
  const respond = (req: BaseChatRequest): Reply => {
    const prompt = req.messages.map((m) => m.content).join("\n");
    const reply = codecReply(roleOf(req.model), prompt);
    const usage = { inputTokens: 10 + (prompt.length % 17), outputTokens: 3 + (req.index % 5) };
    const t = (tokens[req.model] ??= { requests: 0, input: 0, output: 0 });
    t.requests++;
    t.input += usage.inputTokens;
    t.output += usage.outputTokens;
    return typeof reply === "string" ? { text: reply, usage } : { json: reply, usage };
  };
  return { respond, tokens };
}

const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const byRole = (summary: RunSummary, role: string) =>
  summary.calls.byRole[role] ?? { calls: 0, failedCalls: 0, inputTokens: 0, outputTokens: 0 };

describe("whole graph through ChatOpenAI and the OpenAI protocol server", () => {
  for (const method of [undefined, "functionCalling", "jsonMode"] as const) {
    it(`runs with structured output ${method ?? "jsonSchema (default)"} for every role`, async () => {
      const responder = codecResponder((model) => (model === TARGET_MODEL ? "target" : "strong"));
      const server = await startOpenAIServer({ respond: responder.respond, models: [STRONG_MODEL, TARGET_MODEL] });
      servers.push(server);
      const role = (name: string) => ({
        model: `openai:${name}`,
        baseUrl: server.url,
        ...(method ? { structuredOutput: method } : {}),
      });
      const state = await run(
        { env: {}, maxRetries: 0 },
        { seeds: seeds(3) },
        { strong: role(STRONG_MODEL), target: role(TARGET_MODEL), size: 8, poolSize: 6, seed: 4, concurrency: 8 },
      );
      expect(state.kept).toHaveLength(8);
      for (const pair of state.kept) expectValidKept(pair);
      expect(state.summary.models).toEqual({
        strong: `openai:${STRONG_MODEL}`,
        target: `openai:${TARGET_MODEL}`,
        judge: `openai:${STRONG_MODEL}`,
      });
      expectConsistentSummary(state);

      // the server saw both models; structured steps in the requested mode, answers as plain text
      const models = new Set(server.requests.map((r) => r.model));
      expect(models).toEqual(new Set([STRONG_MODEL, TARGET_MODEL]));
      const expectedMode =
        method === "functionCalling" ? "tools" : method === "jsonMode" ? "json_object" : "json_schema";
      const strongRequests = server.requests.filter((r) => r.model === STRONG_MODEL);
      expect(strongRequests.some((r) => r.mode === expectedMode)).toBe(true);
      expect(new Set(strongRequests.map((r) => r.mode))).toEqual(new Set([expectedMode, "text"]));
      for (const r of server.requests.filter((x) => x.model === TARGET_MODEL)) expect(r.mode).toBe("text");
      for (const r of server.requests) expect(r.stream).toBe(false);
      if (method === "functionCalling")
        for (const r of strongRequests.filter((x) => x.mode === "tools")) expect(r.toolForced).toBe(true);
      if (!method) {
        const names = new Set(strongRequests.filter((r) => r.mode === "json_schema").map((r) => r.schemaName));
        // every structured step went over the wire (pool-check: 3 seeds mixed up to 6; action-apply: some gaps were small)
        expect(names).toEqual(
          new Set([
            "instruction_metadata",
            "plausibility_verdicts",
            "rubrics_and_actions",
            "instructions",
            "pairwise_scores",
            "improved_instruction",
          ]),
        );
      }

      // usage in the summary matches what the server reported, per model and in total
      const strongTokens = responder.tokens[STRONG_MODEL]!;
      const targetTokens = responder.tokens[TARGET_MODEL]!;
      const { summary } = state;
      expect(summary.calls.total.inputTokens).toBeGreaterThan(0);
      expect(summary.calls.total.outputTokens).toBeGreaterThan(0);
      expect(summary.calls.total).toEqual({
        calls: server.counters.completed,
        failedCalls: 0,
        inputTokens: strongTokens.input + targetTokens.input,
        outputTokens: strongTokens.output + targetTokens.output,
      });
      expect(byRole(summary, "target")).toEqual({
        calls: targetTokens.requests,
        failedCalls: 0,
        inputTokens: targetTokens.input,
        outputTokens: targetTokens.output,
      });
      const strongSide = byRole(summary, "strong");
      const judgeSide = byRole(summary, "judge");
      expect(strongSide.inputTokens + judgeSide.inputTokens).toBe(strongTokens.input);
      expect(strongSide.outputTokens + judgeSide.outputTokens).toBe(strongTokens.output);
      expect(strongSide.calls + judgeSide.calls).toBe(strongTokens.requests);
      const judgePrompts = server.requests.filter((r) => r.messages.some((m) => isJudgePrompt(m.content)));
      expect(judgeSide.calls).toBe(judgePrompts.length);
      expect(judgeSide.calls).toBe(2 * state.summary.calls.byStep["answer-target"]!.calls);
    });
  }
});

describe("whole graph over the wire: faults, timeouts, concurrency", () => {
  const isEncode = (req: BaseChatRequest) => req.messages.some((m) => m.content.includes("You analyse instructions"));
  const isRubric = (req: BaseChatRequest) => req.messages.some((m) => m.content.includes("rubrics: specific criteria"));

  it("retries a malformed JSON reply and meters the failed attempt", async () => {
    const responder = codecResponder((model) => (model === TARGET_MODEL ? "target" : "strong"));
    const faulted = new Set<string>();
    const server = await startOpenAIServer({
      respond: responder.respond,
      // the first encode and rubric request for each prompt comes back as cut-off JSON
      fault: (req) => {
        if (!isEncode(req) && !isRubric(req)) return undefined;
        const key = req.messages.map((m) => m.content).join("\n");
        if (faulted.has(key)) return undefined;
        faulted.add(key);
        return "malformed-json";
      },
    });
    servers.push(server);
    const role = (name: string) => ({ model: `openai:${name}`, baseUrl: server.url });
    const state = await run(
      { env: {}, maxRetries: 0 },
      { seeds: seeds(4) },
      { strong: role(STRONG_MODEL), target: role(TARGET_MODEL), size: 6, poolSize: 4, seed: 4 },
    );
    expect(state.kept).toHaveLength(6);
    // Rubrics are written when first needed: 3 of the 4 metadata have an instruction that needs improving.
    expect(server.counters.faults["malformed-json"]).toBe(7);
    expect(state.summary.calls.byStep.encode).toMatchObject({ calls: 8, failedCalls: 4 });
    expect(state.summary.calls.byStep["rubric-generate"]).toMatchObject({ calls: 6, failedCalls: 3 });
    expect(state.dropped.filter((d) => d.reason === "failure")).toEqual([]);
    expect(state.summary.calls.total.calls).toBe(server.counters.completed);
  });

  it("never has more than `concurrency` calls in flight", async () => {
    const responder = codecResponder((model) => (model === TARGET_MODEL ? "target" : "strong"));
    const server = await startOpenAIServer({ respond: responder.respond, latencyMs: { mean: 3 } });
    servers.push(server);
    const role = (name: string) => ({ model: `openai:${name}`, baseUrl: server.url });
    const state = await run(
      { env: {}, maxRetries: 0 },
      { seeds: seeds(4) },
      { strong: role(STRONG_MODEL), target: role(TARGET_MODEL), size: 5, poolSize: 4, seed: 4, concurrency: 3 },
    );
    expect(state.kept).toHaveLength(5);
    expect(server.counters.maxInFlight).toBeGreaterThanOrEqual(2);
    expect(server.counters.maxInFlight).toBeLessThanOrEqual(3);
  });

  it("records a hanging target as timed-out failures and ends the run", async () => {
    const strongResponder = codecResponder(() => "strong");
    const strongServer = await startOpenAIServer({ respond: strongResponder.respond });
    const targetServer = await startOpenAIServer({ respond: () => "never sent", fault: () => "hang" });
    servers.push(strongServer, targetServer);
    const state = await run(
      { env: {}, maxRetries: 0 },
      { seeds: seeds(3) },
      {
        timeoutSeconds: 0.3,
        retries: 0,
        strong: { model: `openai:${STRONG_MODEL}`, baseUrl: strongServer.url },
        target: { model: `openai:${TARGET_MODEL}`, baseUrl: targetServer.url },
        size: 3,
        poolSize: 3,
        topUpRounds: 0,
        expectedKeepRate: 1,
      },
    );
    // Counted, not timed: one target call per instruction, each cut by the timeout and not retried (retries 0).
    expect(targetServer.counters.requests).toBe(3);
    expect(targetServer.counters.completed).toBe(0);
    expect(state.kept).toEqual([]);
    expect(state.summary.status).toBe("incomplete");
    const failed = state.dropped.filter((d) => d.kind === "instruction");
    expect(failed.length).toBe(3);
    for (const record of failed) {
      expect(record).toMatchObject({ reason: "failure", step: "answer-target" });
      expect(record.error).toMatch(/time/i);
    }
  });
});

describe("whole graph with a provider mix", () => {
  it("runs the strong role through ChatGoogleGenerativeAI and the target through ChatOpenAI", async () => {
    const gemini = codecResponder(() => "strong");
    const openai = codecResponder(() => "target");
    const geminiServer = await startGeminiServer({ respond: gemini.respond, models: ["gemini-2.5-flash"] });
    const openaiServer = await startOpenAIServer({ respond: openai.respond });
    servers.push(geminiServer, openaiServer);
    const state = await run(
      { env: { GOOGLE_API_KEY: "gemini-test-key-0000" }, maxRetries: 0 },
      { seeds: seeds(4) },
      {
        strong: { model: "google-genai:gemini-2.5-flash", baseUrl: geminiServer.url },
        target: { model: `openai:${TARGET_MODEL}`, baseUrl: openaiServer.url },
        size: 6,
        poolSize: 4,
        seed: 8,
        concurrency: 8,
      },
    );
    expect(state.kept).toHaveLength(6);
    for (const pair of state.kept) expectValidKept(pair);
    expectConsistentSummary(state);
    expect(state.summary.models.strong).toBe("google-genai:gemini-2.5-flash");

    // every strong/judge call went to Gemini, every target call to OpenAI
    expect(geminiServer.requests.length).toBeGreaterThan(0);
    expect(new Set(geminiServer.requests.map((r) => r.model))).toEqual(new Set(["gemini-2.5-flash"]));
    expect(new Set(geminiServer.requests.map((r) => r.mode))).toEqual(new Set(["json_schema", "text"]));
    for (const r of geminiServer.requests) expect(r.auth).toEqual({ present: true, last4: "0000" });
    expect(openaiServer.requests.length).toBeGreaterThan(0);
    for (const r of openaiServer.requests) expect(r).toMatchObject({ model: TARGET_MODEL, mode: "text" });

    const g = gemini.tokens["gemini-2.5-flash"]!;
    const o = openai.tokens[TARGET_MODEL]!;
    expect(state.summary.calls.total.inputTokens).toBe(g.input + o.input);
    expect(state.summary.calls.total.outputTokens).toBe(g.output + o.output);
    expect(byRole(state.summary, "target").calls).toBe(o.requests);
  });
});

describe("secrets never reach the outputs", () => {
  const SECRET = "sk-test-SECRET1234567890abcdef";

  /** A server that rejects every call and quotes the presented key, as OpenAI's 401 does. */
  async function echoKeyServer(): Promise<{ url: string; close(): Promise<void>; seen: string[] }> {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      const key = String(req.headers.authorization ?? "").replace(/^Bearer\s+/i, "");
      seen.push(key);
      req.resume();
      req.on("end", () => {
        const body = JSON.stringify({
          error: {
            message: `Incorrect API key provided: ${key}. Your key ${key} was sent as Bearer ${key}.`,
            type: "invalid_request_error",
            param: null,
            code: "invalid_api_key",
          },
        });
        res.writeHead(401, { "content-type": "application/json" });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/v1`,
      seen,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  }

  const assertNoSecret = (state: FinalState, secret: string) => {
    const text = JSON.stringify({
      kept: state.kept,
      dropped: state.dropped,
      summary: state.summary,
      stopReason: state.stopReason,
    });
    expect(text).not.toContain(secret);
    expect(text).not.toContain(secret.slice(-12));
  };

  it("redacts an OpenAI-style key echoed in a provider's error body", async () => {
    const server = await echoKeyServer();
    servers.push(server);
    const role = (name: string) => ({ model: `openai:${name}`, baseUrl: server.url });
    // A refused key is no per-instruction failure: the run stops at once, with a redacted message.
    const error = (await run(
      { env: { OPENAI_API_KEY: SECRET }, maxRetries: 0 },
      { seeds: seeds(3) },
      { strong: role(STRONG_MODEL), target: role(TARGET_MODEL), size: 4, poolSize: 3 },
    ).catch((e: unknown) => e)) as Error;
    expect(server.seen).toContain(SECRET); // the key really went out and came back in the error
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/401/);
    expect(error.message).toContain("[redacted]");
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain(SECRET.slice(-12));
  });

  it("redacts a key of no known shape, read through apiKeyEnv, echoed by a failing responder", async () => {
    const plain = "corp-gateway-token-7f3a9b2c4d5e";
    const server = await startOpenAIServer({
      respond: () => {
        throw new Error(`gateway rejected token ${plain}`);
      },
    });
    servers.push(server);
    const role = (name: string) => ({ model: `openai:${name}`, baseUrl: server.url, apiKeyEnv: "CORP_TOKEN" });
    const state = await run(
      { env: { CORP_TOKEN: plain }, maxRetries: 0 },
      { seeds: seeds(2) },
      { strong: role(STRONG_MODEL), target: role(TARGET_MODEL), size: 3, poolSize: 2, retries: 0 },
    );
    expect(server.requests.every((r) => r.auth.last4 === plain.slice(-4))).toBe(true);
    expect(state.dropped.length).toBeGreaterThan(0);
    for (const record of state.dropped) expect(record.error).toMatch(/gateway rejected token \[redacted\]/);
    assertNoSecret(state, plain);
  });
});

describe("Self-Rubrics written ahead (rubricsAhead)", () => {
  const isRubric = (req: BaseChatRequest) => req.messages.some((m) => m.content.includes("rubrics: specific criteria"));

  /** The protocol server with the CodecLM responder; `allKept` makes every judge keep the strong answer at once. */
  async function serve(allKept: boolean) {
    const responder = codecResponder((model) => (model === TARGET_MODEL ? "target" : "strong"));
    const server = await startOpenAIServer({
      respond: (req) => {
        const prompt = req.messages.map((m) => m.content).join("\n");
        if (!allKept || !isJudgePrompt(prompt)) return responder.respond(req);
        const strongFirst = readBlocks(prompt)?.get("ANSWER 1")?.startsWith("[strong]") ?? true;
        return { json: { assistant1: strongFirst ? 9 : 2, assistant2: strongFirst ? 2 : 9 } };
      },
    });
    servers.push(server);
    return server;
  }

  // 40 pairs from a pool of 4: 20 first-round instructions per metadata, past the default threshold of 10.
  const settings = (url: string, extra: CodecConfigInput = {}): CodecConfigInput => ({
    strong: { model: `openai:${STRONG_MODEL}`, baseUrl: url },
    target: { model: `openai:${TARGET_MODEL}`, baseUrl: url },
    size: 40,
    poolSize: 4,
    seed: 4,
    ...extra,
  });

  it("writes each metadata's rubrics once, as its decode returns; the instructions improved use them", async () => {
    const server = await serve(false);
    const state = await run({ env: {}, maxRetries: 0 }, { seeds: seeds(4) }, settings(server.url));
    expect(state.kept).toHaveLength(40);
    const rubricRequests = server.requests.filter(isRubric);
    expect(rubricRequests).toHaveLength(4);
    // Started as the decodes return, not by the instructions that need them (the calls' order at the
    // server then depends on timing): all four are in the setup's requests, before the first improvement.
    const firstImprovement = server.requests.findIndex((req) =>
      req.messages.some((m) => m.content.includes("Rewrite an instruction")),
    );
    for (const request of rubricRequests) expect(request.index).toBeLessThan(firstImprovement);
    // Improved pairs used them: each call is counted once, by the first instruction that used it.
    expect(state.kept.some((pair) => pair.iteration > 1)).toBe(true);
    expect(state.summary.rubricsAhead).toEqual({ written: 4, unused: 0 });
    expect(state.summary.calls.byStep["rubric-generate"]).toMatchObject({ calls: 4, failedCalls: 0 });
    expect(state.summary.calls.total.calls).toBe(server.counters.completed);
  });

  it("counts rubrics written ahead that no instruction used, and writes none when turned off", async () => {
    const ahead = await serve(true);
    const used = await run({ env: {}, maxRetries: 0 }, { seeds: seeds(4) }, settings(ahead.url));
    expect(used.kept).toHaveLength(40);
    for (const pair of used.kept) expect(pair.iteration).toBe(1);
    expect(ahead.requests.filter(isRubric)).toHaveLength(4);
    expect(used.summary.rubricsAhead).toEqual({ written: 4, unused: 4 });
    expect(used.summary.calls.byStep["rubric-generate"]).toMatchObject({ calls: 4 });
    expect(used.summary.calls.total.calls).toBe(ahead.counters.completed);

    const whenNeeded = await serve(true);
    const off = await run(
      { env: {}, maxRetries: 0 },
      { seeds: seeds(4) },
      settings(whenNeeded.url, { rubricsAhead: 0 }),
    );
    expect(off.kept).toHaveLength(40);
    expect(whenNeeded.requests.filter(isRubric)).toHaveLength(0);
    expect(off.summary.rubricsAhead).toBeUndefined();
    expect(off.summary.calls.byStep["rubric-generate"]).toBeUndefined();
    expect(off.summary.calls.total.calls).toBe(whenNeeded.counters.completed);
  });
});
