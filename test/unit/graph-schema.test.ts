import { StateGraph } from "@langchain/langgraph";
import { registry } from "@langchain/langgraph/zod";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type StateShape, graphSchema } from "../../nodes/state.js";

const append = (a: string[], b: string[]) => a.concat(b);
const state = z.object({
  items: z.array(z.string()).register(registry, { reducer: { fn: append }, default: () => [] }),
  count: z.number().register(registry, { default: () => 0 }),
});

/** One node that writes `update`, in a graph of the given shape. */
function graphWriting(shape: StateShape, update: Record<string, unknown>) {
  return new StateGraph({ state: graphSchema(state, shape) })
    .addNode("write", () => update as never)
    .addEdge("__start__", "write")
    .compile();
}

describe("graphSchema: the state a graph of each shape is built from", () => {
  it("has the schema's channels in both shapes: reducers and defaults from the registry", async () => {
    for (const shape of ["full", "streaming"] as const) {
      const result = await graphWriting(shape, { items: ["b"], count: 2 }).invoke({ items: ["a"] });
      expect(result, shape).toEqual({ items: ["a", "b"], count: 2 });
    }
  });

  it("full validates every node's update against the schema; streaming validates none (the CLI's CPU per call)", async () => {
    const bad = { count: "two" };
    await expect(graphWriting("full", bad).invoke({})).rejects.toThrow();
    await expect(graphWriting("streaming", bad).invoke({})).resolves.toMatchObject({ count: "two" });
  });
});
