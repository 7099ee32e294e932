/**
 * One set of call services per run: the same graph object invoked several times in one process (the
 * library, the dev server) gives each run its own budget ledger, scheduler and stop control.
 */
import { describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import { resolveConfig } from "../../lib/config.js";
import { RUN_KEY, newRun } from "../../nodes/runtime.js";
import { scriptedModels } from "../support/scripted-model.js";

const seeds = [
  { id: "a", instruction: "Write a limerick about a cat who learns to code." },
  { id: "b", instruction: "How do I compute a moving average over a pandas DataFrame column?" },
  { id: "c", instruction: "Explain compound interest to a teenager." },
];
// Exact call counts need waves only: with spares, which instructions past the size run depends on timing.
const settings = { size: 4, poolSize: 3, seed: 7, topUpRounds: 2, spares: "off" as const };

function counted() {
  const models = scriptedModels();
  const calls = () => models.strong.calls.length + models.target.calls.length;
  return { graph: createCodecGraph({ models }), calls };
}

async function callsOf(run: () => Promise<unknown>, calls: () => number) {
  const before = calls();
  const outcome = await run().then(
    (state) => ({ ok: true as const, state }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return { ...outcome, calls: calls() - before };
}

describe("call services belong to one run", () => {
  it("two runs of one graph with the same settings and budget each spend their own budget", async () => {
    const { graph, calls } = counted();
    const whole = await callsOf(() => graph.invoke({ seeds }, { context: resolveConfig(settings) }), calls);
    expect(whole.ok).toBe(true);
    // Enough for one run, not for two.
    const context = resolveConfig({ ...settings, budget: { maxCalls: whole.calls + 2 } });
    const first = await callsOf(() => graph.invoke({ seeds }, { context }), calls);
    const second = await callsOf(() => graph.invoke({ seeds }, { context }), calls);
    expect(first.ok).toBe(true);
    expect(second.ok).toBe(true);
    expect(first.calls).toBe(whole.calls);
    expect(second.calls).toBe(whole.calls);
    const summary = (second as { state: { summary: { status: string; spend: { calls: number } } } }).state.summary;
    expect(summary.status).toBe("complete");
    expect(summary.spend.calls).toBe(whole.calls);
  });

  it("a run stopped by its budget stops no other: the next run with the same settings spends its own", async () => {
    const { graph, calls } = counted();
    const context = resolveConfig({ ...settings, budget: { maxCalls: 5 } });
    const first = await callsOf(() => graph.invoke({ seeds }, { context }), calls);
    expect(first.ok).toBe(false);
    const error = (first as { error: Error & { errors?: unknown[] } }).error;
    const messages = [error, ...(error.errors ?? [])].map(String).join("\n");
    expect(messages).toMatch(/run stopped: .*budget|run stopped: .*calls/i);
    expect(first.calls).toBe(5);
    const second = await callsOf(() => graph.invoke({ seeds }, { context }), calls);
    expect(second.ok).toBe(false);
    expect(second.calls).toBe(5);
  });

  it("two runs at the same time each get their whole budget", async () => {
    const { graph, calls } = counted();
    const context = resolveConfig({ ...settings, budget: { maxCalls: 6 } });
    const runs = await Promise.allSettled([graph.invoke({ seeds }, { context }), graph.invoke({ seeds }, { context })]);
    expect(runs.map((run) => run.status)).toEqual(["rejected", "rejected"]);
    expect(calls()).toBe(12);
  });

  it("a caller that built the run passes it explicitly: every call of the invocation goes through its services", async () => {
    const models = scriptedModels();
    const calls = () => models.strong.calls.length + models.target.calls.length;
    const graph = createCodecGraph({ models });
    const run = newRun({ models }, resolveConfig(settings));
    const first = await callsOf(
      () => graph.invoke({ seeds }, { context: run.config, configurable: { [RUN_KEY]: run } }),
      calls,
    );
    expect(first.ok).toBe(true);
    expect(first.calls).toBeGreaterThan(0);
    expect(run.services.ledger.snapshot().spent.calls).toBe(first.calls);
    // The same run given again is the same budget, ledger and near-duplicate index, not a fresh one.
    const limited = newRun({ models }, resolveConfig({ ...settings, budget: { maxCalls: first.calls + 2 } }));
    await callsOf(
      () => graph.invoke({ seeds }, { context: limited.config, configurable: { [RUN_KEY]: limited } }),
      calls,
    );
    const again = await callsOf(
      () => graph.invoke({ seeds }, { context: limited.config, configurable: { [RUN_KEY]: limited } }),
      calls,
    );
    expect(again.calls).toBeLessThanOrEqual(2);
    expect(limited.services.ledger.snapshot().spent.calls).toBeLessThanOrEqual(first.calls + 2);
  });
});
