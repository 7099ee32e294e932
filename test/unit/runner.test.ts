/**
 * The runner's pieces: a refused plan touches no file; the state view reduces node updates with the
 * graph's own reducers and restores a checkpoint's values as they are; a stopped run's summary is built
 * from that view (graph state), so it says what the input's metadata were.
 */
import { setMaxListeners } from "node:events";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { emptyProgress } from "../../lib/tasks.js";
import { emptyUsage } from "../../lib/usage.js";
import { outputPathsFor } from "../../runner/output.js";
import { runToFiles } from "../../runner/run.js";
import { StateView } from "../../runner/state-view.js";
import { scriptedModels } from "../support/scripted-model.js";

setMaxListeners(0);
const SEEDS = [
  { id: "a", instruction: "Write a limerick about a cat." },
  { id: "b", instruction: "How do I sort a list in Python?" },
  { id: "c", instruction: "Explain compound interest to a teenager." },
];

describe("runner plan", () => {
  it("impossible settings are refused before any output folder or lock is made", async () => {
    const dir = await mkdtemp(join(tmpdir(), "codeclm-runner-plan-"));
    const models = scriptedModels();
    const paths = outputPathsFor(join(dir, "new", "folder", "out.jsonl"));
    await expect(
      runToFiles({ input: { seeds: SEEDS }, config: { theta: 11 }, paths, graph: { models } }),
    ).rejects.toThrow(/theta 11 can never be exceeded/);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe("state view", () => {
  it("combines node updates with the graph's reducers (sums, maxima, merged tallies; last value otherwise)", () => {
    const view = new StateView();
    view.apply({ decodedCount: 3, round: 2, tally: { "failed:encode": 1 }, waveStart: 0, waveEnd: 5 });
    view.apply({
      decodedCount: 4,
      round: 1,
      tally: { "failed:encode": 2, "dropped:near-duplicate": 1 },
      waveStart: 5,
      waveEnd: 9,
    });
    const progress = { ...emptyProgress(), kept: 2, finished: 4 };
    view.apply({ progress, poolStats: { seedsEncoded: 3 } });
    const values = view.values();
    expect(values.decodedCount).toBe(7);
    expect(values.round).toBe(2);
    expect(values.tally).toEqual({ "failed:encode": 3, "dropped:near-duplicate": 1 });
    expect([values.waveStart, values.waveEnd]).toEqual([5, 9]);
    expect(values.progress).toEqual(progress);
    expect(values.poolStats).toEqual({ seedsEncoded: 3 });
    expect(values.runId).toBeUndefined();
    expect(values.encoded).toEqual([]);
  });

  it("restores a checkpoint's values as they are (not reduced again), and refuses values that are not the graph's state", () => {
    const usage = emptyUsage();
    const view = StateView.fromValues({
      runId: "r1",
      decodedCount: 5,
      round: 3,
      tally: { "failed:decode": 2 },
      usage,
      wave: [],
      kept: [],
    });
    if (!view) throw new Error("the checkpoint's values were refused");
    view.apply({ decodedCount: 1, tally: { "failed:decode": 1 } });
    const values = view.values();
    expect(values.runId).toBe("r1");
    expect(values.decodedCount).toBe(6);
    expect(values.round).toBe(3);
    expect(values.tally).toEqual({ "failed:decode": 3 });
    expect(values.usage).toEqual(usage);
    expect(StateView.fromValues({ decodedCount: "five" })).toBeUndefined();
  });
});

describe("a stopped run's summary", () => {
  it("is built from the graph state: the input's use cases and skills and the seeds encoded are counted", async () => {
    const dir = await mkdtemp(join(tmpdir(), "codeclm-runner-stop-"));
    const models = scriptedModels();
    // Three encode calls, then the budget stops the run during the first decode or rubric calls.
    const summary = await runToFiles({
      input: { seeds: SEEDS },
      config: { size: 6, poolSize: 3, budget: { maxCalls: 4 } },
      paths: outputPathsFor(join(dir, "out.jsonl")),
      graph: { models },
      checkpoint: { kind: "none" },
    });
    expect(summary.status).toBe("stopped");
    expect(summary.seeds?.encoded).toBe(3);
    expect(summary.inputMetadata?.source).toBe("seeds");
    expect(summary.inputMetadata?.items).toBe(3);
  });

  it("names its run even when stopped before the graph's first step", async () => {
    const dir = await mkdtemp(join(tmpdir(), "codeclm-runner-stop-"));
    const models = scriptedModels();
    const summary = await runToFiles({
      input: { seeds: SEEDS },
      config: { size: 6, poolSize: 3 },
      paths: outputPathsFor(join(dir, "out.jsonl")),
      graph: { models },
      runId: "run-stopped-at-once",
      signal: AbortSignal.abort(),
      checkpoint: { kind: "none" },
    });
    expect(summary.status).toBe("stopped");
    expect(summary.runId).toBe("run-stopped-at-once");
    expect(models.strong.calls).toHaveLength(0);
  });
});
