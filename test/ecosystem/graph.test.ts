import { describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import { registry } from "@langchain/langgraph/zod";
import type { z } from "zod";
import { configOf } from "../../nodes/runtime.js";
import { codecStateSchema, instructionStateSchema } from "../../nodes/state.js";

describe("the drawn graph reads like the paper's Figure 2", () => {
  it("names every step, shows the per-instruction loop (xray) and labels every conditional edge", async () => {
    const drawn = await createCodecGraph().getGraphAsync({ xray: 1 });
    const json = drawn.toJSON() as {
      nodes: Array<{ id: string }>;
      edges: Array<{ source: string; target: string; data?: string; conditional?: boolean }>;
    };
    const ids = json.nodes.map((node) => node.id);
    for (const name of [
      "prepare",
      "encode",
      "build-pool",
      "review-pool",
      "decode",
      "dedupe",
      "schedule",
      "instruction:answer",
      "instruction:contrastive-judge",
      "instruction:rubric-generate",
      "instruction:action-apply",
      "collect",
      "finalize",
    ]) {
      expect(ids).toContain(name);
    }
    const edge = (source: string, target: string) =>
      json.edges.filter((e) => e.source === source && e.target === target);
    const label = (source: string, target: string) => edge(source, target).map((e) => e.data);

    // Every conditional edge carries a label.
    const conditional = json.edges.filter((e) => e.conditional);
    expect(conditional.length).toBeGreaterThan(10);
    for (const e of conditional) expect(e.data, `${e.source} -> ${e.target}`).toBeTruthy();

    // The Contrastive Filtering loop: answer -> judge -> improve -> action-apply -> answer.
    expect(label("instruction:answer", "instruction:contrastive-judge")).toEqual(["judge"]);
    expect(label("instruction:contrastive-judge", "instruction:action-apply")).toEqual(["improve"]);
    expect(label("instruction:action-apply", "instruction:answer")).toEqual(["improved"]);
    // Self-Rubrics when first needed: once per metadata, before the first improvement.
    expect(label("instruction:contrastive-judge", "instruction:rubric-generate")).toEqual(["first improvement"]);
    expect(label("instruction:rubric-generate", "instruction:action-apply")).toEqual(["actions ready"]);
    expect(label("instruction:contrastive-judge", "instruction:__end__").sort()).toEqual([
      "drop",
      "failed",
      "keep",
      "not needed",
    ]);
    // The outer loop: waves, top-up rounds, and the end.
    expect(label("collect", "schedule")).toEqual(["next wave"]);
    expect(label("collect", "decode")).toEqual(["top-up"]);
    expect(label("collect", "finalize")).toEqual(["done"]);
    expect(label("prepare", "encode")).toEqual(["each seed"]);
    // Near-duplicates are dropped before any instruction is dispatched.
    expect(edge("decode", "dedupe")).toHaveLength(1);
    expect(edge("dedupe", "review-instructions")).toHaveLength(1);
    expect(edge("review-instructions", "schedule")).toHaveLength(1);
    // The pool's review sits between build-pool and the decode fan-out.
    expect(edge("build-pool", "review-pool")).toHaveLength(1);

    const mermaid = drawn.drawMermaid();
    expect(mermaid).toContain("subgraph instruction");
    expect(mermaid).toMatch(/instruction_contrastive-judge -\. &nbsp;improve&nbsp; \.-> instruction_action-apply/);
  });
});

describe("configOf", () => {
  it("reads the run's context, applying defaults", () => {
    const config = configOf({ context: { size: 7 } } as never);
    expect(config.size).toBe(7);
    expect(config.theta).toBe(3);
    expect(config.dedupeThreshold).toBe(0.7);
  });

  it("also honours settings given as configurable (Studio assistants saved as config), context winning", () => {
    const fromConfigurable = configOf({ configurable: { size: 5, thread_id: "t", theta: 2 } } as never);
    expect(fromConfigurable.size).toBe(5);
    expect(fromConfigurable.theta).toBe(2);
    const both = configOf({ configurable: { size: 5, theta: 2 }, context: { size: 9 } } as never);
    expect(both.size).toBe(9);
    expect(both.theta).toBe(2);
    expect(configOf({ configurable: { thread_id: "t" } } as never).size).toBe(100);
  });
});

describe("the state's two named shapes", () => {
  const reducerOf = (schema: z.ZodType) =>
    (registry.get(schema) as { reducer?: { fn: (a: unknown[], b: unknown[]) => unknown[] } }).reducer!.fn;

  it("full keeps kept pairs and drops in state; streaming lets them pass through", () => {
    const full = codecStateSchema("full");
    const streaming = codecStateSchema("streaming");
    expect(reducerOf(full.shape.kept)([1], [2])).toEqual([1, 2]);
    expect(reducerOf(streaming.shape.kept)([1], [2])).toEqual([]);
    expect(reducerOf(streaming.shape.dropped)([1], [2])).toEqual([]);
  });

  it("full validates the large internal channels on each update; streaming only types them", () => {
    const notATask = [{ id: 3 }];
    expect(codecStateSchema("full").shape.wave.safeParse(notATask).success).toBe(false);
    expect(codecStateSchema("streaming").shape.wave.safeParse(notATask).success).toBe(true);
    expect(instructionStateSchema("streaming").shape.task.safeParse({}).success).toBe(true);
    expect(instructionStateSchema("full").shape.task.safeParse({}).success).toBe(false);
  });
});
