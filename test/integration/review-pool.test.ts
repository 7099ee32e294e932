import { Command, MemorySaver } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import type { PoolEntry } from "../../lib/records.js";
import { type FinalState, asContext, seeds } from "../support/graph-fixtures.js";
import { ScriptedChatModel, scriptedModels } from "../support/scripted-model.js";
import { codecReply } from "../support/codec-responder.js";

const context = asContext({ size: 12, poolSize: 10, seed: 3, reviewPool: true });

/** Scripted models that count the decode, answer and judge calls (none may happen before the review). */
function countingModels() {
  const prompts: string[] = [];
  const wrap = (role: "strong" | "target") =>
    new ScriptedChatModel((prompt) => {
      prompts.push(prompt);
      return codecReply(role, prompt, {});
    });
  return { models: { strong: wrap("strong"), target: wrap("target") }, prompts };
}

async function interrupted(thread: string, checkpointer = new MemorySaver()) {
  const counting = countingModels();
  const graph = createCodecGraph({ models: counting.models, checkpointer });
  const config = { context, configurable: { thread_id: thread } };
  const first = (await graph.invoke({ seeds: seeds(8) }, config)) as {
    __interrupt__?: Array<{ value: { pool: PoolEntry[] } }>;
  };
  return { graph, config, first, counting };
}

describe("reviewing the metadata pool (LangGraph interrupt)", () => {
  it("stops after build-pool with the pool as the interrupt's value, before any decode", async () => {
    const { first, counting, graph, config } = await interrupted("a");
    const pool = first.__interrupt__?.[0]?.value.pool;
    expect(pool).toHaveLength(10);
    expect(pool![0]).toMatchObject({ id: "m0", useCase: expect.any(String), skills: expect.any(Array) });
    const callsAtReview = counting.prompts.length;
    expect(callsAtReview).toBeGreaterThan(0); // encode and the plausibility check
    const state = await graph.getState(config);
    expect(state.next).toEqual(["review-pool"]);
    expect(state.values.kept ?? []).toHaveLength(0);
  });

  it("resumed with an edited pool of 3, keeps its size from those 3 only", async () => {
    const { first, graph, config } = await interrupted("b");
    const pool = first.__interrupt__![0]!.value.pool;
    const edited = [
      pool[0]!,
      { ...pool[1]!, useCase: "Writing limericks about databases" },
      { useCase: "Explaining tax forms", skills: ["plain language", "arithmetic"] },
    ];
    const out = (await graph.invoke(new Command({ resume: { pool: edited } }), config)) as unknown as FinalState;
    expect(out.kept).toHaveLength(12);
    expect(out.pool.map((entry) => entry.id)).toEqual(["m0", "m1", "m2"]);
    expect(out.pool[2]).toMatchObject({ origin: "user", useCase: "Explaining tax forms" });
    const useCases = new Set(edited.map((entry) => entry.useCase));
    for (const pair of out.kept) {
      expect(["m0", "m1", "m2"]).toContain(pair.lineage.metadataId);
      expect(useCases.has(pair.metadata.useCase)).toBe(true);
    }
    expect(out.kept.some((pair) => pair.lineage.metadataId === "m2")).toBe(true);
    expect(out.summary.pool.size).toBe(3);
    expect(out.summary.pool.reviewedFrom).toBe(10);
    expect(out.summary.pool.reviewedAdded).toBe(1);
  });

  it("resumed with true, continues with the pool as built", async () => {
    const { first, graph, config } = await interrupted("c");
    const out = (await graph.invoke(new Command({ resume: true }), config)) as unknown as FinalState;
    expect(out.kept).toHaveLength(12);
    expect(out.pool).toEqual(first.__interrupt__![0]!.value.pool);
  });

  it("asks again with the problem when an entry is malformed; a corrected answer continues", async () => {
    const { graph, config } = await interrupted("d");
    const bad = { pool: [{ useCase: "ok", skills: ["a"] }, { useCase: "no skills" }] };
    const again = (await graph.invoke(new Command({ resume: bad }), config)) as {
      __interrupt__?: Array<{ value: { pool: PoolEntry[]; error?: string } }>;
    };
    expect(again.__interrupt__?.[0]?.value.error).toMatch(/reviewed pool, entry 2: no "skills" field/);
    expect(again.__interrupt__?.[0]?.value.pool).toHaveLength(10);
    const wrongShape = (await graph.invoke(new Command({ resume: { entries: [] } }), config)) as typeof again;
    expect(wrongShape.__interrupt__?.[0]?.value.error).toMatch(/resume the pool review with true/);
    const good = { pool: [{ useCase: "ok", skills: ["a"] }] };
    const out = (await graph.invoke(new Command({ resume: good }), config)) as unknown as FinalState;
    expect(out.pool.map((entry) => entry.useCase)).toEqual(["ok"]);
    expect(out.kept).toHaveLength(12);
  });

  it("says it needs a checkpointer when the graph has none", async () => {
    const bare = createCodecGraph({ models: scriptedModels() });
    await expect(bare.invoke({ seeds: seeds(4) }, { context })).rejects.toThrow(/reviewPool needs a checkpointer/);
  });

  it("passes straight through when reviewPool is off", async () => {
    const graph = createCodecGraph({ models: scriptedModels(), checkpointer: new MemorySaver() });
    const out = (await graph.invoke(
      { seeds: seeds(6) },
      { context: asContext({ size: 6, poolSize: 5, seed: 3 }), configurable: { thread_id: "e" } },
    )) as unknown as FinalState;
    expect(out.kept).toHaveLength(6);
  });

  it("is drawn between build-pool and the decode fan-out", async () => {
    const drawn = (await createCodecGraph().getGraphAsync()).toJSON() as {
      edges: Array<{ source: string; target: string; data?: string }>;
    };
    const from = (source: string) => drawn.edges.filter((e) => e.source === source).map((e) => e.target);
    expect(from("build-pool")).toEqual(["review-pool"]);
    expect(from("review-pool").sort()).toEqual(["decode", "finalize"]);
  });
});
