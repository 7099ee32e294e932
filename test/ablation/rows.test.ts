import { setMaxListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import {
  type Ablation,
  TABLE3,
  filters,
  rolesFor,
  unfilteredStep,
  usesMetadata,
  usesRubrics,
} from "../../lib/ablation.js";
import { resolveConfig } from "../../lib/config.js";
import { KeptPairSchema, type Seed } from "../../lib/records.js";
import { selfInstructBatches } from "../../lib/self-instruct.js";
import type { RunSummary } from "../../lib/summary.js";
import { scriptedModels } from "../support/scripted-model.js";

// As the CLI does: every graph task listens on the run's abort signal.
setMaxListeners(0);

const SEEDS: Seed[] = [
  { id: "a", instruction: "Write a limerick about a cat who learns to code." },
  { id: "b", instruction: "How do I compute a moving average over a pandas DataFrame column?" },
  { id: "c", instruction: "Explain compound interest to a teenager." },
  { id: "d", instruction: "Summarise the causes of the French Revolution in five bullet points." },
];

async function runRow(ablation: Ablation, extra: Record<string, unknown> = {}) {
  const models = scriptedModels();
  const graph = createCodecGraph({ models });
  const state = await graph.invoke(
    { seeds: SEEDS },
    { context: resolveConfig({ size: 8, poolSize: 6, seed: 3, concurrency: 4, ablation, ...extra }) },
  );
  const kept = state.kept.map((pair) => KeptPairSchema.parse(JSON.parse(JSON.stringify(pair))));
  const summary = state.summary as unknown as RunSummary;
  const steps = Object.keys(summary.calls.byStep).sort();
  return { kept, summary, steps, models, dropped: state.dropped };
}

describe("Table 3 rows as graph paths (scripted models)", () => {
  it("no-metadata: Self-Instruct from seed examples, answered by the strong model, all kept unjudged", async () => {
    const { kept, summary, steps, models } = await runRow("no-metadata");
    expect(summary.status).toBe("complete");
    expect(kept).toHaveLength(8);
    expect(steps).toEqual(["answer-strong", "self-instruct"]);
    expect(models.target.calls).toHaveLength(0);
    expect(models.strong.calls.some((call) => call.prompt.includes("Here are examples of instructions"))).toBe(true);
    for (const pair of kept) {
      expect(pair.source).toBe("strong");
      expect(pair.instruction).toMatch(/^Self-instructed task/);
      expect(pair.response).toBe(pair.answers.strong);
      expect(pair.scores).toBeUndefined();
      expect(pair.rawScores).toBeUndefined();
      expect(pair.answers.target).toBeUndefined();
      expect(pair.metadata).toEqual({ useCase: "", skills: [] });
      expect(pair.iteration).toBe(1);
      expect(pair.lineage.metadataOrigin).toBe("self-instruct");
      expect(pair.lineage.seedIds.length).toBeGreaterThan(0);
      expect(pair.lineage.seedIds.every((id) => SEEDS.some((seed) => seed.id === id))).toBe(true);
      expect(pair.lineage.iterations).toHaveLength(1);
    }
    expect(summary.settings.ablation).toBe("no-metadata");
  });

  it("metadata-only: encode, pool and decode; no rubrics, no improvement, no filtering", async () => {
    const { kept, steps, models } = await runRow("metadata-only");
    expect(kept).toHaveLength(8);
    expect(steps).toEqual(["answer-strong", "decode", "encode", "pool-check"]);
    expect(models.target.calls).toHaveLength(0);
    for (const pair of kept) {
      expect(pair.source).toBe("strong");
      expect(pair.iteration).toBe(1);
      expect(pair.lineage.actions).toEqual([]);
      expect(pair.instruction).toBe(pair.lineage.basicInstruction);
      expect(pair.metadata.useCase).not.toBe("");
      expect(pair.metadata.skills.length).toBeGreaterThan(0);
      expect(pair.scores).toBeUndefined();
    }
  });

  it.each([1, 2])(
    "metadata-rubrics: every instruction improved %i time(s) by Self-Rubrics, then kept unjudged",
    async (improvements) => {
      const { kept, steps, models } = await runRow("metadata-rubrics", { ablationImprovements: improvements });
      expect(kept).toHaveLength(8);
      expect(steps).toEqual(["action-apply", "answer-strong", "decode", "encode", "pool-check", "rubric-generate"]);
      expect(models.target.calls).toHaveLength(0);
      for (const pair of kept) {
        expect(pair.iteration).toBe(1 + improvements);
        expect(pair.lineage.actions).toHaveLength(improvements);
        expect(pair.instruction.match(/\[harder:/g)).toHaveLength(improvements);
        expect(pair.lineage.iterations).toHaveLength(1);
        expect(pair.lineage.iterations[0]!.action).toBe(pair.lineage.actions.at(-1));
        expect(pair.scores).toBeUndefined();
        expect(pair.source).toBe("strong");
      }
    },
  );

  it("full: Contrastive Filtering judges strong against target, as before", async () => {
    const { kept, steps, models } = await runRow("full");
    expect(kept).toHaveLength(8);
    expect(steps).toEqual(expect.arrayContaining(["answer-strong", "answer-target", "judge", "rubric-generate"]));
    expect(models.target.calls.length).toBeGreaterThan(0);
    for (const pair of kept) {
      expect(Math.abs(pair.scores!.gap)).toBeGreaterThan(3);
      expect(pair.rawScores).toBeDefined();
      expect(pair.lineage.iterations).toHaveLength(pair.iteration);
    }
  });

  it("no-metadata refuses user-written metadata", async () => {
    const graph = createCodecGraph({ models: scriptedModels() });
    await expect(
      graph.invoke(
        { metadata: [{ useCase: "qa", skills: ["history"] }] },
        { context: resolveConfig({ size: 2, ablation: "no-metadata" }) },
      ),
    ).rejects.toThrow("no-metadata ablation generates from seed examples");
  });
});

describe("ablation logic", () => {
  it("names the four rows of Table 3 in order, with the paper's CRR", () => {
    expect(TABLE3.map((row) => row.ablation)).toEqual(["no-metadata", "metadata-only", "metadata-rubrics", "full"]);
    expect(TABLE3.map((row) => row.paperCrr)).toEqual([72.02, 75.23, 77.52, 79.82]);
  });

  it("switches the method's parts on row by row", () => {
    expect(
      ["no-metadata", "metadata-only", "metadata-rubrics", "full"].map((a) => [
        usesMetadata(a as Ablation),
        usesRubrics(a as Ablation),
        filters(a as Ablation),
      ]),
    ).toEqual([
      [false, false, false],
      [true, false, false],
      [true, true, false],
      [true, true, true],
    ]);
    expect(rolesFor("metadata-rubrics")).toEqual(["strong"]);
    expect(rolesFor("full")).toEqual(["strong", "target", "judge"]);
  });

  it("improves a fixed number of times in the metadata-rubrics row, never elsewhere", () => {
    expect(unfilteredStep("metadata-rubrics", 0, 2)).toBe("action-apply");
    expect(unfilteredStep("metadata-rubrics", 1, 2)).toBe("action-apply");
    expect(unfilteredStep("metadata-rubrics", 2, 2)).toBe("accept");
    expect(unfilteredStep("metadata-only", 0, 2)).toBe("accept");
    expect(unfilteredStep("no-metadata", 0, 2)).toBe("accept");
  });

  it("splits Self-Instruct work into seeded calls of at most 10, each with up to 6 examples", () => {
    const seeds = Array.from({ length: 20 }, (_, i) => ({ id: `s${i}`, instruction: `seed ${i}` }));
    const batches = selfInstructBatches(seeds, { total: 23, round: 1, seed: 42 });
    expect(batches.map((batch) => batch.count)).toEqual([10, 10, 3]);
    expect(batches.every((batch) => batch.examples.length === 6)).toBe(true);
    expect(new Set(batches[0]!.examples.map((seed) => seed.id)).size).toBe(6);
    expect(selfInstructBatches(seeds, { total: 23, round: 1, seed: 42 })).toEqual(batches);
    expect(selfInstructBatches(seeds, { total: 23, round: 2, seed: 42 })[0]!.examples).not.toEqual(
      batches[0]!.examples,
    );
    expect(selfInstructBatches(seeds.slice(0, 2), { total: 5, round: 1, seed: 1 })[0]!.examples).toHaveLength(2);
  });
});

describe("rowConfig (what shapes each row's data, for reuse)", () => {
  it("rows without filtering ignore the target, the judge and θ; the full row keeps them", async () => {
    const { rowConfig } = await import("../../eval/ablate.js");
    const { runFingerprint } = await import("../../runner/run-state.js");
    const a = resolveConfig({ theta: 5, target: { model: "openai:t1" }, judge: { model: "openai:j" } });
    const b = resolveConfig({ theta: 2, target: { model: "openai:t2" } });
    const input = { seeds: SEEDS };
    for (const row of ["no-metadata", "metadata-only", "metadata-rubrics"] as const) {
      expect(runFingerprint(rowConfig(a, row), input), row).toBe(runFingerprint(rowConfig(b, row), input));
      expect(rowConfig(a, row)).toMatchObject({ ablation: row, target: a.strong, judge: null, theta: 3 });
    }
    expect(runFingerprint(rowConfig(a, "full"), input)).not.toBe(runFingerprint(rowConfig(b, "full"), input));
    expect(rowConfig(a, "full")).toMatchObject({ theta: 5, target: { model: "openai:t1" } });
  });
});
