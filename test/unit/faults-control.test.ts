import { describe, expect, it } from "vitest";
import { AdaptiveLimit } from "../../lib/adaptive.js";
import { CircuitBreaker } from "../../lib/breaker.js";
import { budgetBlock, emptySpend } from "../../lib/budget.js";
import { classifyFault, retryAfterMs, retryDelayMs } from "../../lib/faults.js";
import { costUsd, priceFor } from "../../lib/prices.js";

describe("classifyFault", () => {
  const withStatus = (status: number, headers?: Record<string, string>) =>
    Object.assign(new Error(`${status} x`), { status, headers });

  it("sorts HTTP statuses into retryable kinds and fatal ones", () => {
    expect(classifyFault(withStatus(429))).toEqual({ kind: "rate-limit", status: 429 });
    expect(classifyFault(withStatus(500)).kind).toBe("server");
    expect(classifyFault(withStatus(503)).kind).toBe("server");
    expect(classifyFault(withStatus(408)).kind).toBe("server");
    expect(classifyFault(withStatus(400))).toEqual({ kind: "fatal", status: 400 });
    expect(classifyFault(withStatus(401))).toEqual({ kind: "fatal", status: 401 });
  });

  it("reads Retry-After from a Headers object or a plain record, in seconds, ms or as a date", () => {
    const headers = new Headers({ "retry-after": "2" });
    expect(classifyFault(Object.assign(new Error("429"), { status: 429, headers }))).toEqual({
      kind: "rate-limit",
      status: 429,
      retryAfterMs: 2000,
    });
    expect(retryAfterMs({ "Retry-After-Ms": "150" })).toBe(150);
    expect(retryAfterMs({ "retry-after": new Date(10_000).toUTCString() }, 4_000)).toBe(6_000);
    expect(retryAfterMs({ "retry-after": "soon" })).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });

  it("recognises timeouts and dropped connections without a status", () => {
    const timeout = Object.assign(new Error("Request timed out."), { name: "TimeoutError" });
    expect(classifyFault(timeout).kind).toBe("timeout");
    class APIConnectionError extends Error {}
    expect(classifyFault(new APIConnectionError("Connection error.")).kind).toBe("connection");
    expect(classifyFault(Object.assign(new Error("socket"), { cause: { code: "ECONNRESET" } })).kind).toBe(
      "connection",
    );
    expect(
      classifyFault(new Error("[GoogleGenerativeAI Error]: fetch failed [503 Service Unavailable] overloaded")).kind,
    ).toBe("server");
    expect(classifyFault(new TypeError("x is not a function")).kind).toBe("fatal");
  });

  it("backs off exponentially with jitter, capped, and never sooner than Retry-After", () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1000 };
    const low = () => 0;
    const high = () => 0.999;
    expect(retryDelayMs(1, { kind: "server" }, policy, low)).toBe(50);
    expect(retryDelayMs(1, { kind: "server" }, policy, high)).toBeCloseTo(100, 0);
    expect(retryDelayMs(3, { kind: "server" }, policy, low)).toBe(200);
    expect(retryDelayMs(10, { kind: "server" }, policy, high)).toBeLessThanOrEqual(1000);
    expect(retryDelayMs(1, { kind: "rate-limit", retryAfterMs: 2000 }, policy, low)).toBe(2000);
    expect(retryDelayMs(9, { kind: "rate-limit", retryAfterMs: 2000 }, policy, high)).toBeCloseTo(2050, 0); // the server's word, not backoff
  });
});

describe("AdaptiveLimit", () => {
  it("halves on rate limits, once per round trip, and recovers one step per round of successes", () => {
    const limit = new AdaptiveLimit(32);
    expect(limit.limit).toBe(32);
    // 5% of the last 64 answers (twice the limit) must be 429s: the fourth one decides.
    for (let i = 0; i < 3; i++) expect(limit.onRateLimit(1000 + i)).toBe(false);
    expect(limit.onRateLimit(1003)).toBe(true);
    expect(limit.onRateLimit(1004)).toBe(false); // same burst
    expect(limit.limit).toBe(16);
    for (let i = 0; i < 2; i++) limit.onRateLimit(2000 + i); // a window of 32 now: 2 are enough
    expect(limit.limit).toBe(8);
    for (let i = 0; i < 8; i++) limit.onSuccess(100, 3000 + i);
    expect(limit.limit).toBe(9);
    for (let i = 0; i < 1000; i++) limit.onSuccess(100, 4000 + i);
    expect(limit.limit).toBe(32);
  });

  it("shrinks when latency climbs well above its baseline, per kind of call", () => {
    const limit = new AdaptiveLimit(20);
    let now = 0;
    for (let i = 0; i < 20; i++) limit.onSuccess(100, (now += 10), "judge");
    for (let i = 0; i < 20; i++) limit.onSuccess(2000, (now += 10), "answer"); // slow by nature, steady: no signal
    expect(limit.limit).toBe(20);
    for (let i = 0; i < 30; i++) limit.onSuccess(600, (now += 400), "judge");
    expect(limit.limit).toBeLessThan(20);
    expect(limit.lastReason).toBe("latency");
  });

  it("never goes below its minimum", () => {
    const limit = new AdaptiveLimit(4);
    for (let i = 0; i < 40; i++) limit.onRateLimit(i * 10_000);
    expect(limit.limit).toBe(1);
  });

  it("ignores isolated 429s among many successes (noise), not a run of them", () => {
    const limit = new AdaptiveLimit(32);
    let now = 0;
    for (let i = 0; i < 3000; i++) {
      now += 10;
      if (i % 100 === 50) limit.onRateLimit(now);
      else limit.onSuccess(200, now);
    }
    expect(limit.limit).toBe(32);
    for (let i = 0; i < 6; i++) limit.onRateLimit((now += 300));
    expect(limit.limit).toBeLessThanOrEqual(16);
  });
});

describe("CircuitBreaker", () => {
  it("opens after consecutive failures, lets one probe through after the cool-down, closes on success", () => {
    const breaker = new CircuitBreaker({ threshold: 3, initialCooldownMs: 100, maxCooldownMs: 400 });
    breaker.onFailure(0);
    breaker.onFailure(1);
    expect(breaker.tryPass(2)).toBe(true);
    breaker.onFailure(2);
    expect(breaker.state).toBe("open");
    expect(breaker.tryPass(50)).toBe(false);
    expect(breaker.tryPass(102)).toBe(true); // the probe
    expect(breaker.tryPass(103)).toBe(false); // only one
    breaker.onFailure(110);
    expect(breaker.state).toBe("open");
    expect(breaker.reopensAt()).toBe(310); // cool-down doubled
    expect(breaker.downForMs(300)).toBe(300);
    expect(breaker.tryPass(311)).toBe(true);
    breaker.onSuccess();
    expect(breaker.state).toBe("closed");
    expect(breaker.downForMs(400)).toBe(0);
  });

  it("a success in between resets the count", () => {
    const breaker = new CircuitBreaker({ threshold: 3, initialCooldownMs: 100, maxCooldownMs: 400 });
    breaker.onFailure(0);
    breaker.onFailure(1);
    breaker.onSuccess();
    breaker.onFailure(2);
    breaker.onFailure(3);
    expect(breaker.state).toBe("closed");
  });
});

describe("prices and budgets", () => {
  it("prices common models by family, dated snapshots included; local and unknown models have none", () => {
    expect(priceFor("openai:gpt-4o")).toEqual({ input: 2.5, output: 10 });
    expect(priceFor("openai:gpt-4o-mini")).toEqual({ input: 0.15, output: 0.6 });
    expect(priceFor("openai:gpt-4o-2024-08-06")).toEqual({ input: 2.5, output: 10 });
    expect(priceFor("google-genai:gemini-2.5-flash-lite")).toEqual({ input: 0.1, output: 0.4 });
    expect(priceFor("google-genai:models/gemini-2.5-pro")?.input).toBe(1.25);
    expect(priceFor("openai:llama3.1:8b")).toBeUndefined();
    expect(priceFor("local:/models/x.gguf")).toBeUndefined();
    expect(priceFor("openai:my-model", { "openai:my-model": { input: 1, output: 2 } })).toEqual({
      input: 1,
      output: 2,
    });
    expect(priceFor("openai:gpt-4o", { "gpt-4o": { input: 0, output: 0 } })).toEqual({ input: 0, output: 0 });
    expect(costUsd(priceFor("openai:gpt-4o"), 1_000_000, 100_000)).toBeCloseTo(3.5);
    expect(costUsd(undefined, 10, 10)).toBeUndefined();
  });

  it("blocks a call that would cross a limit, counting calls in flight", () => {
    const limits = { maxCalls: 10, maxTokens: 1000, maxCostUsd: 1 };
    const one = { calls: 1, inputTokens: 100, outputTokens: 100, costUsd: 0.1 };
    expect(budgetBlock(limits, emptySpend(), emptySpend(), one)).toBeUndefined();
    expect(budgetBlock(limits, { ...emptySpend(), calls: 9 }, { ...emptySpend(), calls: 1 }, one)?.kind).toBe("calls");
    expect(
      budgetBlock(limits, { calls: 1, inputTokens: 500, outputTokens: 300, costUsd: 0 }, emptySpend(), one),
    ).toBeUndefined(); // exactly at the cap
    expect(
      budgetBlock(limits, { calls: 1, inputTokens: 500, outputTokens: 301, costUsd: 0 }, emptySpend(), one)?.kind,
    ).toBe("tokens");
    expect(
      budgetBlock(limits, { calls: 1, inputTokens: 0, outputTokens: 0, costUsd: 0.95 }, emptySpend(), one)?.message,
    ).toContain("$1.00");
    expect(
      budgetBlock(
        { maxCalls: null, maxTokens: null, maxCostUsd: null },
        { calls: 1e9, inputTokens: 1e12, outputTokens: 0, costUsd: 1e9 },
        emptySpend(),
        one,
      ),
    ).toBeUndefined();
  });
});
