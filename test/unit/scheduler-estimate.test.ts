import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../lib/config.js";
import { estimateRun, filteringExpectation } from "../../lib/estimate.js";
import { CallScheduler, type Slot } from "../../models/scheduler.js";

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("CallScheduler", () => {
  it("never has more in flight than the global limit or an endpoint's cap, and serves in arrival order", async () => {
    const scheduler = new CallScheduler(3, { adaptive: false, giveUpMs: 60_000 });
    scheduler.register("a", 2);
    scheduler.register("b", 3);
    const granted: string[] = [];
    const slots: Slot[] = [];
    const want = (key: string, label: string) =>
      scheduler.acquire(key).then((slot) => {
        granted.push(label);
        slots.push(slot);
      });
    const all = [want("a", "a1"), want("a", "a2"), want("a", "a3"), want("b", "b1"), want("b", "b2")];
    await tick();
    expect(granted).toEqual(["a1", "a2", "b1"]); // a capped at 2, global at 3
    expect(scheduler.inFlight).toBe(3);
    scheduler.release(slots[0]!, { kind: "answer", latencyMs: 10, step: "x" });
    await tick();
    expect(granted).toEqual(["a1", "a2", "b1", "a3"]); // a3 came before b2
    for (const slot of slots.slice(1)) scheduler.release(slot, { kind: "answer", latencyMs: 10, step: "x" });
    await Promise.all(all);
    expect(granted.at(-1)).toBe("b2");
  });

  it("serves a lower priority first, in arrival order within one, across endpoints; an aborted waiter leaves", async () => {
    const scheduler = new CallScheduler(1, { adaptive: false, giveUpMs: 60_000 });
    const granted: string[] = [];
    let held = await scheduler.acquire("a");
    const done = (outcome = { kind: "answer" as const, latencyMs: 10, step: "x" }) => scheduler.release(held, outcome);
    const aborted = new AbortController();
    const want = (key: string, label: string, priority: number, signal?: AbortSignal) =>
      scheduler.acquire(key, signal, priority).then(
        (slot) => {
          granted.push(label);
          held = slot;
        },
        () => granted.push(`${label} aborted`),
      );
    const all = [
      want("a", "a-depth4", 4),
      want("b", "b-depth1", 1),
      want("a", "a-depth1", 1),
      want("a", "a-depth0-aborted", 0, aborted.signal),
      want("b", "b-depth4", 4),
      want("a", "a-depth0", 0),
    ];
    aborted.abort(new Error("stop"));
    await tick();
    expect(scheduler.snapshot().map((endpoint) => endpoint.queued)).toEqual([3, 2]);
    for (let i = 0; i < 5; i++) {
      done();
      await tick();
    }
    await Promise.all(all);
    expect(granted).toEqual(["a-depth0-aborted aborted", "a-depth0", "b-depth1", "a-depth1", "a-depth4", "b-depth4"]);
  });

  it("the smallest cap wins when roles share an endpoint", async () => {
    const scheduler = new CallScheduler(8, { adaptive: false, giveUpMs: 60_000 });
    scheduler.register("shared", 5);
    scheduler.register("shared", 2);
    scheduler.register("shared", 4);
    expect(scheduler.snapshot()[0]).toMatchObject({ key: "shared", max: 2, limit: 2 });
  });

  it("halves an endpoint's limit on rate limits (adaptive) without touching its breaker", async () => {
    const scheduler = new CallScheduler(8, { adaptive: true, giveUpMs: 60_000 });
    scheduler.register("e", 8);
    for (let i = 0; i < 2; i++) {
      // Two 429s among the last 32 answers are evidence of a rate limit (one alone is noise).
      const slot = await scheduler.acquire("e");
      scheduler.release(slot, { kind: "fault", fault: { kind: "rate-limit", status: 429 } });
    }
    expect(scheduler.snapshot()[0]).toMatchObject({ limit: 4, breaker: "closed", lastChange: "rate-limit" });
  });

  it("pauses an endpoint that keeps failing, probes it, and gives up when it stays down", async () => {
    let now = 0;
    const gaveUp: string[] = [];
    const scheduler = new CallScheduler(4, {
      adaptive: false,
      giveUpMs: 1_000,
      breaker: { threshold: 2, initialCooldownMs: 100, maxCooldownMs: 100 },
      onGiveUp: (endpoint) => gaveUp.push(endpoint),
      now: () => now,
    });
    const fail = async () => {
      const slot = await scheduler.acquire("down");
      scheduler.release(slot, { kind: "fault", fault: { kind: "server", status: 500 } });
      return slot;
    };
    expect((await fail()).healthy).toBe(true);
    await fail();
    expect(scheduler.snapshot()[0]!.breaker).toBe("open");
    let probed = false;
    const waiting = scheduler.acquire("down").then((slot) => {
      probed = true;
      return slot;
    });
    await tick();
    expect(probed).toBe(false);
    now = 150;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const probe = await waiting;
    expect(probe.healthy).toBe(false); // a failure now does not use up the call's retries
    scheduler.release(probe, { kind: "fault", fault: { kind: "connection" } });
    now = 1_200;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(gaveUp).toEqual(["down"]);
    scheduler.stop(new Error("stopped"));
    await expect(scheduler.acquire("down")).rejects.toThrow("stopped");
  });

  it("stop rejects waiting calls; idle resolves when the calls in flight end", async () => {
    const scheduler = new CallScheduler(1, { adaptive: false, giveUpMs: 60_000 });
    const first = await scheduler.acquire("e");
    const second = scheduler.acquire("e");
    scheduler.stop(new Error("budget"));
    await expect(second).rejects.toThrow("budget");
    let idle = false;
    const done = scheduler.idle().then(() => (idle = true));
    await tick();
    expect(idle).toBe(false);
    scheduler.release(first, { kind: "answer", latencyMs: 1, step: "x" });
    await done;
    expect(idle).toBe(true);
  });
});

describe("dry-run estimate", () => {
  it("expected passes and kept share follow the per-pass keep rate", () => {
    expect(filteringExpectation(1, 4)).toEqual({ passes: 1, keptShare: 1 });
    const half = filteringExpectation(0.5, 4);
    expect(half.passes).toBeCloseTo(1.875);
    expect(half.keptShare).toBeCloseTo(0.9375);
  });

  it("counts every step's calls and prices known models, with a range and the budget it would hit", () => {
    const config = resolveConfig({
      size: 100,
      poolSize: 20,
      strong: { model: "openai:gpt-4o" },
      target: { model: "openai:my-local" },
      budget: { maxCostUsd: 0.01 },
    });
    const estimate = estimateRun({ seeds: { count: 10, meanChars: 80 } }, config);
    const calls = Object.fromEntries(estimate.steps.map((step) => [step.step, step.calls]));
    expect(calls.encode).toBe(10);
    expect(calls["rubric-generate"]).toBe(20);
    expect(calls["pool-check"]).toBe(2); // 10 augmented * 1.1 / 10 per batch
    expect(estimate.instructions).toBe(Math.ceil(100 / 0.9375));
    expect(calls["answer-strong"]).toBe(calls["answer-target"]);
    expect(calls.judge).toBe(2 * calls["answer-strong"]!);
    expect(estimate.total.calls).toBe(estimate.steps.reduce((sum, step) => sum + step.calls, 0));
    expect(estimate.total.unpriced).toEqual(["openai:my-local"]);
    expect(estimate.total.costUsd).toBeGreaterThan(0);
    expect(estimate.range[0]!.calls).toBeGreaterThan(estimate.total.calls);
    expect(estimate.range[1]!.calls).toBeLessThan(estimate.total.calls);
    expect(estimate.budgetStop?.kind).toBe("cost");
  });
});
