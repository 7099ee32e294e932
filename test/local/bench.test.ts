import { describe, expect, it } from "vitest";
import { runLocalBench } from "../../bench/local.js";

describe("bench/local.ts", () => {
  it("measures raw node-llama-cpp and LocalChatModel tokens/s on the tiny model with the same settings", async () => {
    const r = await runLocalBench({ tokens: 48, runs: 2, warmupRuns: 1, threads: 1, print: false });
    expect(r.threads).toBe(1);
    for (const side of [r.raw, r.rawCompletion, r.provider]) {
      expect(side.tokensPerRun).toBe(48);
      expect(side.tokensPerSecond).toBeGreaterThan(0);
      expect(side.runs).toHaveLength(2);
    }
    expect(r.ratio).toBeCloseTo(r.provider.tokensPerSecond / r.raw.tokensPerSecond, 6);
    expect(r.ratioToCompletion).toBeGreaterThan(0);
  });
});
