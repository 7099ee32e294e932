import { describe, expect, it } from "vitest";
import { type CodecState } from "../../nodes/state.js";
import { emptyProgress } from "../../lib/tasks.js";
import { resolveConfig } from "../../lib/config.js";
import { buildSummary, stopReasonFor } from "../../lib/summary.js";
import type { CallRecord } from "../../lib/accounts.js";
import { UsageMeter, emptyUsage, mergeUsage, totalCounts } from "../../lib/usage.js";

const call = (role: string, step: string, rest: Partial<CallRecord> = {}): CallRecord => ({
  role,
  step,
  model: "openai:m",
  outcome: "answered",
  inputTokens: 0,
  outputTokens: 0,
  costUsd: null,
  ...rest,
});

function state(overrides: Partial<CodecState> = {}): CodecState {
  return {
    seeds: [{ id: "s0", instruction: "x" }],
    encoded: [{ seedId: "s0", useCase: "qa", skills: ["a"] }],
    pool: [{ id: "m0", origin: "seed", seedIds: ["s0"], useCase: "qa", skills: ["a"] }],
    poolStats: { size: 1 },
    rubrics: {},
    round: 2,
    decoded: [],
    decodedCount: 0,
    recent: {},
    wave: [],
    waveStart: 0,
    waveEnd: 0,
    outcomes: [],
    kept: [],
    dropped: [],
    progress: emptyProgress(),
    tally: {},
    usage: emptyUsage(),
    ...overrides,
  } as CodecState;
}

const oneTask = [
  {
    id: "t",
    order: 0,
    round: 1,
    metadataId: "m0",
    metadataOrigin: "seed" as const,
    seedIds: ["s0"],
    metadata: { useCase: "qa", skills: ["a"] },
    basicInstruction: "b",
    actions: [],
  },
];

describe("stopReasonFor", () => {
  const config = resolveConfig({ size: 10, topUpRounds: 2 });

  it("says the size was reached", () => {
    expect(stopReasonFor(state({ progress: { ...emptyProgress(), kept: 10 } }), config)).toMatch(
      /reached the requested size \(10/,
    );
  });

  it("says no seed could be encoded", () => {
    expect(stopReasonFor(state({ encoded: [], pool: [] }), config)).toMatch(/no seed could be encoded/);
  });

  it("says the pool is empty (user metadata all invalid)", () => {
    expect(stopReasonFor(state({ seeds: undefined, encoded: [], pool: [] }), config)).toMatch(/metadata pool is empty/);
  });

  it("says nothing could be decoded", () => {
    expect(stopReasonFor(state(), config)).toMatch(/no basic instruction could be decoded/);
  });

  it("says the top-up rounds ran out, with the keep rate", () => {
    const reason = stopReasonFor(
      state({ decoded: oneTask, decodedCount: 1, progress: { ...emptyProgress(), kept: 3, finished: 12 } }),
      config,
    );
    expect(reason).toMatch(/kept 3 of 10/);
    expect(reason).toMatch(/all 2 top-up rounds are used/);
    expect(reason).toMatch(/keep rate 0\.25 over 12/);
    const off = stopReasonFor(
      state({ decoded: oneTask, decodedCount: 1 }),
      resolveConfig({ size: 10, topUpRounds: 0 }),
    );
    expect(off).toMatch(/top-up is off/);
  });
});

describe("buildSummary", () => {
  it("merges drop and failure tallies from filtering and from earlier steps; hides prompt texts", () => {
    const config = resolveConfig({ size: 2, prompts: { answer: "Q: {instruction}" } });
    const meter = new UsageMeter();
    meter.record(call("strong", "encode", { inputTokens: 10, outputTokens: 2 }));
    meter.record(call("target", "answer-target", { outcome: "malformed" }));
    const summary = buildSummary(
      state({
        startedAt: 1000,
        runId: "r1",
        decoded: oneTask,
        decodedCount: 1,
        progress: {
          ...emptyProgress(),
          kept: 2,
          finished: 4,
          keptPerIteration: { "1": 2 },
          droppedByReason: { failure: 1, surplus: 1 },
          failuresByStep: { judge: 1 },
        },
        tally: { "dropped:failure": 2, "failed:encode": 2, "dropped:implausible": 3 },
        usage: meter.totals,
      }),
      config,
      { stopReason: "done", models: { strong: "a", target: "b", judge: "a" }, finishedAt: 3500 },
    );
    expect(summary).toMatchObject({
      runId: "r1",
      status: "complete",
      stopReason: "done",
      requested: 2,
      kept: 2,
      dropped: { failure: 3, surplus: 1, implausible: 3 },
      failures: { judge: 1, encode: 2 },
      instructions: { decoded: 1, filtered: 4, rounds: 2 },
      wallTimeMs: 2500,
      startedAt: new Date(1000).toISOString(),
    });
    expect(summary.calls.total).toEqual({ calls: 2, failedCalls: 1, inputTokens: 10, outputTokens: 2 });
    expect(summary.settings.customPrompts).toEqual(["answer"]);
    expect(JSON.stringify(summary)).not.toContain("Q: {instruction}");
  });

  it("is incomplete below the size", () => {
    const summary = buildSummary(state(), resolveConfig({ size: 2 }), {
      stopReason: "x",
      models: { strong: "a", target: "b", judge: "a" },
      finishedAt: Date.now(),
    });
    expect(summary.status).toBe("incomplete");
  });
});

describe("usage", () => {
  it("meters by role and step and merges additively", () => {
    const a = new UsageMeter();
    a.record(call("strong", "decode", { inputTokens: 5, outputTokens: 1 }));
    a.record(call("strong", "encode", { inputTokens: 3 }));
    const b = new UsageMeter();
    b.record(call("strong", "decode", { outcome: "malformed", inputTokens: 2 }));
    b.record(call("judge", "judge", { inputTokens: 3, outputTokens: 1 }));
    b.record(call("judge", "judge", { inputTokens: 4, outputTokens: 3 }));
    const merged = mergeUsage(a.totals, b.totals);
    expect(merged.byRole.strong).toEqual({ calls: 3, failedCalls: 1, inputTokens: 10, outputTokens: 1 });
    expect(merged.byStep.decode).toEqual({ calls: 2, failedCalls: 1, inputTokens: 7, outputTokens: 1 });
    expect(totalCounts(merged)).toEqual({ calls: 5, failedCalls: 1, inputTokens: 17, outputTokens: 5 });
    expect(mergeUsage(emptyUsage(), emptyUsage())).toEqual(emptyUsage());
    // inputs untouched
    expect(a.totals.byRole.strong!.calls).toBe(2);
  });
});
