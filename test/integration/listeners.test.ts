/**
 * A library run with waves of many instructions sets off no MaxListenersExceededWarning: LangGraph adds an
 * abort listener per task of a superstep, and the graph raises Node's cap (bounded) before any run.
 */
import { EventEmitter } from "node:events";
import { afterAll, describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import { ABORT_LISTENER_CAP } from "../../graphs/listeners.js";
import { resolveConfig } from "../../lib/config.js";
import { scriptedModels } from "../support/scripted-model.js";

const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);
process.on("warning", onWarning);
afterAll(() => {
  process.off("warning", onWarning);
});

describe("abort listeners", () => {
  it("a wave of 40 instructions through the subgraph warns of no listener leak; the cap stays bounded", async () => {
    const before = EventEmitter.defaultMaxListeners;
    expect(before).toBe(10); // a fresh worker: Node's default, nothing raised it yet
    const models = scriptedModels();
    const graph = createCodecGraph({ models });
    const seeds = Array.from({ length: 8 }, (_, i) => ({
      id: `s${i}`,
      instruction: `Seed task number ${i}: explain topic ${i} in detail.`,
    }));
    const state = await graph.invoke(
      { seeds },
      { context: resolveConfig({ size: 40, poolSize: 8, seed: 3, concurrency: 32 }) },
    );
    expect(state.summary).toMatchObject({ kept: 40 });
    // Tasks of one wave really ran side by side (more than Node's default cap of 10).
    expect(models.strong.calls.length).toBeGreaterThan(40);
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    expect(warnings.filter((warning) => warning.name === "MaxListenersExceededWarning").map(String)).toEqual([]);
    expect(EventEmitter.defaultMaxListeners).toBe(ABORT_LISTENER_CAP);
  });
});
