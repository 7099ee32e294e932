import { describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import { type CodecConfigInput, resolveConfig } from "../../lib/config.js";
import { findNearDuplicates } from "../../lib/dedupe.js";
import { DroppedRecordSchema } from "../../lib/records.js";
import { codecReply } from "../support/codec-responder.js";
import { repeatingModels } from "../support/repeating-strong.js";
import { ScriptedChatModel } from "../support/scripted-model.js";

/** Scripted models whose decode step repeats itself: every second instruction is a light edit of the one before. */
function repetitiveModels() {
  const reply = (role: "strong" | "target") => (prompt: string) => {
    const value = codecReply(role, prompt);
    if (typeof value === "object" && Array.isArray(value.instructions)) {
      const list = value.instructions as string[];
      return { instructions: list.map((text, k) => (k % 2 === 1 ? `${list[k - 1]} please` : text)) };
    }
    return value;
  };
  return { strong: new ScriptedChatModel(reply("strong")), target: new ScriptedChatModel(reply("target")) };
}

const seeds = [
  { id: "a", instruction: "Write a limerick about a cat who learns to code." },
  { id: "b", instruction: "How do I compute a moving average over a pandas DataFrame column?" },
  { id: "c", instruction: "Explain compound interest to a teenager." },
];

async function run(dedupeThreshold: number) {
  const models = repetitiveModels();
  const graph = createCodecGraph({ models });
  const state = await graph.invoke(
    { seeds },
    {
      context: resolveConfig({
        size: 6,
        poolSize: 3,
        instructionsPerMetadata: 4,
        topUpRounds: 0,
        seed: 11,
        dedupeThreshold,
      }),
    },
  );
  const answered = models.target.calls.map((call) => call.prompt);
  return { state, answered };
}

describe("near-duplicate filter in a run", () => {
  it("drops near-repeats before any answer or judge call, records why, and counts them in the summary", async () => {
    const { state, answered } = await run(0.7);
    const duplicates = state.dropped
      .filter((record) => record.reason === "near-duplicate")
      .map((record) => DroppedRecordSchema.parse(record));
    const filtered = new Set([
      ...state.kept.map((pair) => pair.id),
      ...state.dropped
        .filter((record) => record.kind === "instruction" && record.reason !== "near-duplicate")
        .map((record) => record.id),
    ]);
    expect(duplicates.length).toBe(6); // 3 metadata x 4 instructions, every second one a repeat
    for (const record of duplicates) {
      expect(record.kind).toBe("instruction");
      expect(record.duplicateOf).toBeTruthy();
      expect(record.similarity).toBeGreaterThan(0.7);
      expect(record.lineage?.iterations).toEqual([]);
      // The target model never saw it.
      expect(answered.some((prompt) => prompt.includes(record.instruction!))).toBe(false);
      // The earlier twin went on to filtering: it left a kept or dropped record of its own.
      expect(filtered.has(record.duplicateOf!)).toBe(true);
    }
    expect(state.decodedCount).toBe(12);
    expect(state.progress.finished).toBe(6);
    expect((state.summary as { dropped: Record<string, number> }).dropped["near-duplicate"]).toBe(6);
  });

  it("is deterministic, and a threshold of 1 turns it off", async () => {
    const first = await run(0.7);
    const second = await run(0.7);
    const ids = (state: typeof first.state) =>
      state.dropped
        .filter((r) => r.reason === "near-duplicate")
        .map((r) => r.id)
        .sort();
    expect(ids(second.state)).toEqual(ids(first.state));
    const off = await run(1);
    expect(ids(off.state)).toEqual([]);
    expect(off.state.decodedCount).toBe(12);
    expect(off.state.dropped.filter((r) => r.reason === "near-duplicate")).toEqual([]);
  });
});

describe("near-duplicate filter over the whole run, with a strong model that repeats itself", () => {
  const manySeeds = [
    ...seeds,
    { id: "d", instruction: "Summarise the causes of the French Revolution in five bullet points." },
    { id: "e", instruction: "Write a SQL query that finds the ten customers with the highest total order value." },
    { id: "f", instruction: "Draft a polite email asking a landlord to fix a leaking tap." },
  ];

  async function repeatingRun(settings: CodecConfigInput, improvedShare = 0) {
    const scripted = repeatingModels({ share: 0.3, improvedShare });
    const graph = createCodecGraph({ models: scripted.models });
    const state = await graph.invoke({ seeds: manySeeds }, { context: resolveConfig({ seed: 5, ...settings }) });
    return { state, ...scripted };
  }

  /** No two kept pairs share an instruction or a basic instruction, exactly or nearly (ROUGE-L > 0.7). */
  function expectNoRepeatsAmongKept(
    kept: Array<{ id: string; instruction: string; lineage: { basicInstruction: string } }>,
  ) {
    const norm = (text: string) => text.trim().toLowerCase();
    expect(new Set(kept.map((pair) => norm(pair.instruction))).size).toBe(kept.length);
    expect(new Set(kept.map((pair) => norm(pair.lineage.basicInstruction))).size).toBe(kept.length);
    const texts = kept.flatMap((pair) => {
      const own = new Set([pair.instruction, pair.lineage.basicInstruction]);
      return [...own].map((text, k) => ({ id: `${pair.id}#${k}`, text, pair: pair.id }));
    });
    // Compared across pairs only: an improved instruction may stay close to its own basic one.
    for (const item of texts) {
      const others = texts.filter((other) => other.pair !== item.pair).map((other) => ({ ...other, reference: true }));
      expect(findNearDuplicates([...others, { id: item.id, text: item.text }], 0.7)).toEqual([]);
    }
  }

  it("full method: every repeat, across rounds and metadata, exact or near, is dropped; the summary counts them", async () => {
    // expectedKeepRate 1: the first round sized as if all were kept, so repeats must also be caught across top-up rounds.
    const { state, repeats, improvedRepeats } = await repeatingRun(
      { size: 24, poolSize: 6, topUpRounds: 4, expectedKeepRate: 1 },
      0.3,
    );
    const summary = state.summary as {
      status: string;
      dropped: Record<string, number>;
      instructions: { rounds: number };
    };
    expect(summary.status).toBe("complete");
    expect(state.kept).toHaveLength(24);
    // The model really repeated itself in every way.
    expect(summary.instructions.rounds).toBeGreaterThanOrEqual(2);
    expect(repeats.filter((repeat) => repeat.kind === "exact" && repeat.acrossCalls).length).toBeGreaterThan(0);
    expect(repeats.filter((repeat) => repeat.kind === "near" && repeat.acrossCalls).length).toBeGreaterThan(0);
    expect(repeats.filter((repeat) => !repeat.acrossCalls).length).toBeGreaterThan(0);
    expect(improvedRepeats.length).toBeGreaterThan(0);

    expectNoRepeatsAmongKept(state.kept);
    const nearDuplicates = state.dropped.filter((record) => record.reason === "near-duplicate");
    // One of each repeated pair is dropped before filtering (which one follows the dispatch order) ...
    const beforeFiltering = nearDuplicates.filter((record) => (record.lineage?.iterations.length ?? 0) === 0);
    expect(beforeFiltering).toHaveLength(repeats.length);
    // ... and the summary counts every near-duplicate, kept pairs whose improved instruction repeated another included.
    expect(summary.dropped["near-duplicate"]).toBe(nearDuplicates.length);
  });

  it("no-metadata row: a later self-instruct round is compared with the earlier ones", async () => {
    const { state, repeats } = await repeatingRun({ size: 30, ablation: "no-metadata", topUpRounds: 4 });
    const summary = state.summary as {
      status: string;
      dropped: Record<string, number>;
      instructions: { rounds: number };
    };
    expect(summary.instructions.rounds).toBeGreaterThanOrEqual(2);
    expect(repeats.filter((repeat) => repeat.acrossCalls && repeat.kind === "exact").length).toBeGreaterThan(0);
    expectNoRepeatsAmongKept(state.kept);
    expect(summary.dropped["near-duplicate"]).toBe(repeats.length);
    expect(summary.status).toBe("complete");
  });

  it("top-up rounds make up for near-duplicates: a row without filtering reaches its size", async () => {
    // metadata-only keeps every instruction it filters, so the keep rate of filtering says 1.0; 30% of each
    // reply repeats. Sized by kept / filtered, one top-up round asks for 3 per metadata and ends short.
    const { state, repeats } = await repeatingRun({
      size: 30,
      poolSize: 3,
      keepSeedMetadata: true,
      plausibilityCheck: false,
      ablation: "metadata-only",
      topUpRounds: 1,
    });
    const summary = state.summary as { status: string; kept: number; dropped: Record<string, number> };
    expect(repeats.length).toBeGreaterThan(0);
    expect(summary.kept).toBe(30);
    expect(summary.status).toBe("complete");
  });
});
