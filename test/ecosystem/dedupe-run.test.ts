import { describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import { resolveConfig } from "../../lib/config.js";
import { DroppedRecordSchema } from "../../lib/records.js";
import { codecReply } from "../support/codec-responder.js";
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
    { context: resolveConfig({ size: 6, poolSize: 3, instructionsPerMetadata: 4, topUpRounds: 0, seed: 11, dedupeThreshold }) },
  );
  const answered = models.target.calls.map((call) => call.prompt);
  return { state, answered };
}

describe("near-duplicate filter in a run", () => {
  it("drops near-repeats before any answer or judge call, records why, and counts them in the summary", async () => {
    const { state, answered } = await run(0.7);
    const duplicates = state.dropped.filter((record) => record.reason === "near-duplicate").map((record) => DroppedRecordSchema.parse(record));
    const filtered = new Set([
      ...state.kept.map((pair) => pair.id),
      ...state.dropped.filter((record) => record.kind === "instruction" && record.reason !== "near-duplicate").map((record) => record.id),
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
    const ids = (state: typeof first.state) => state.dropped.filter((r) => r.reason === "near-duplicate").map((r) => r.id).sort();
    expect(ids(second.state)).toEqual(ids(first.state));
    const off = await run(1);
    expect(ids(off.state)).toEqual([]);
    expect(off.state.decodedCount).toBe(12);
    expect(off.state.dropped.filter((r) => r.reason === "near-duplicate")).toEqual([]);
  });
});
