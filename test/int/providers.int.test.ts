/**
 * One small real run per provider, with real keys (`npm run test:int`; never part of `npm test`). Each skips,
 * saying why, when its key is not set. A run is capped by call and cost budgets, so a key costs cents at most.
 * Models: CODECLM_INT_OPENAI_STRONG / _TARGET (default gpt-4o-mini / gpt-4.1-nano), CODECLM_INT_GEMINI_STRONG /
 * _TARGET (default gemini-2.5-flash / gemini-2.5-flash-lite), CODECLM_INT_ANTHROPIC_STRONG / _TARGET (default
 * claude-sonnet-4-5 / claude-haiku-4-5).
 */
import { describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import type { CodecConfig, CodecConfigInput } from "../../lib/config.js";
import { type DroppedRecord, type KeptPair, KeptPairSchema, type Seed } from "../../lib/records.js";
import type { RunSummary } from "../../lib/summary.js";

const SEEDS: Seed[] = [
  { id: "a", instruction: "Write a Python function that returns the n-th Fibonacci number iteratively." },
  { id: "b", instruction: "Explain to a teenager why compound interest makes early saving worthwhile." },
  { id: "c", instruction: "Draft a short, polite email declining a meeting invitation." },
];

interface FinalState {
  kept: KeptPair[];
  dropped: DroppedRecord[];
  summary: RunSummary;
  stopReason: string;
}

async function smallRun(
  provider: string,
  strong: string,
  target: string,
  env: Record<string, string>,
): Promise<FinalState> {
  const context: CodecConfigInput = {
    strong: { model: `${provider}:${strong}` },
    target: { model: `${provider}:${target}` },
    size: 3,
    poolSize: 4,
    seed: 1,
    topUpRounds: 1,
    maxTokens: 512,
    concurrency: 4,
    budget: { maxCalls: 120, maxCostUsd: 0.25 },
  };
  const state = await createCodecGraph({ env }).invoke(
    { seeds: SEEDS },
    { context: context as unknown as CodecConfig },
  );
  return state as unknown as FinalState;
}

function expectSound(state: FinalState) {
  const { kept, summary } = state;
  expect(["complete", "incomplete", "stopped"]).toContain(summary.status);
  if (summary.status !== "complete") expect(state.stopReason.trim()).not.toBe("");
  else expect(kept).toHaveLength(3);
  expect(summary.calls.total.calls).toBeGreaterThan(0);
  expect(summary.calls.total.calls).toBeLessThanOrEqual(120);
  expect(new Set(kept.map((pair) => pair.instruction)).size).toBe(kept.length);
  for (const pair of kept) {
    expect(() => KeptPairSchema.parse(pair)).not.toThrow();
    expect(pair.response.trim()).not.toBe("");
    for (const score of [pair.scores!.strong, pair.scores!.target]) {
      expect(score).toBeGreaterThanOrEqual(1);
      expect(score).toBeLessThanOrEqual(10);
    }
  }
  for (const record of state.dropped.filter((item) => item.reason === "failure")) expect(record.step).toBeTruthy();
}

const openaiKey = process.env.OPENAI_API_KEY?.trim();
const geminiKey = (process.env.GOOGLE_API_KEY ?? process.env.GEMINI_API_KEY)?.trim();
if (!openaiKey) console.warn("[skipped] OpenAI run: OPENAI_API_KEY is not set");
const anthropicKey = process.env.ANTHROPIC_API_KEY?.trim();
if (!geminiKey) console.warn("[skipped] Gemini run: GOOGLE_API_KEY (or GEMINI_API_KEY) is not set");
if (!anthropicKey) console.warn("[skipped] Anthropic run: ANTHROPIC_API_KEY is not set");

describe.skipIf(!openaiKey)("a small real run through OpenAI", () => {
  it("keeps 3 pairs (or says why) within its budgets", async () => {
    const state = await smallRun(
      "openai",
      process.env.CODECLM_INT_OPENAI_STRONG ?? "gpt-4o-mini",
      process.env.CODECLM_INT_OPENAI_TARGET ?? "gpt-4.1-nano",
      {
        OPENAI_API_KEY: openaiKey!,
        ...(process.env.OPENAI_BASE_URL ? { OPENAI_BASE_URL: process.env.OPENAI_BASE_URL } : {}),
      },
    );
    expectSound(state);
    expect(JSON.stringify(state)).not.toContain(openaiKey!.slice(-12));
  }, 600_000);
});

describe.skipIf(!geminiKey)("a small real run through Gemini", () => {
  it("keeps 3 pairs (or says why) within its budgets", async () => {
    const state = await smallRun(
      "google-genai",
      process.env.CODECLM_INT_GEMINI_STRONG ?? "gemini-2.5-flash",
      process.env.CODECLM_INT_GEMINI_TARGET ?? "gemini-2.5-flash-lite",
      { GOOGLE_API_KEY: geminiKey! },
    );
    expectSound(state);
    expect(JSON.stringify(state)).not.toContain(geminiKey!.slice(-12));
  }, 600_000);
});

describe.skipIf(!anthropicKey)("a small real run through Anthropic", () => {
  it("keeps 3 pairs (or says why) within its budgets, structured output by tool use", async () => {
    const state = await smallRun(
      "anthropic",
      process.env.CODECLM_INT_ANTHROPIC_STRONG ?? "claude-sonnet-4-5",
      process.env.CODECLM_INT_ANTHROPIC_TARGET ?? "claude-haiku-4-5",
      {
        ANTHROPIC_API_KEY: anthropicKey!,
        ...(process.env.ANTHROPIC_BASE_URL ? { ANTHROPIC_BASE_URL: process.env.ANTHROPIC_BASE_URL } : {}),
      },
    );
    expectSound(state);
    expect(JSON.stringify(state)).not.toContain(anthropicKey!.slice(-12));
  }, 600_000);
});
