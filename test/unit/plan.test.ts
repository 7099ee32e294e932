import { describe, expect, it } from "vitest";
import {
  writesRubricsAhead,
  firstRoundPerMetadata,
  keepRate,
  spareCount,
  topUpPerMetadata,
  waveLimitFor,
  waveSize,
  yieldRate,
} from "../../lib/plan.js";

describe("firstRoundPerMetadata", () => {
  it("is ceil(size / pool), at least 1", () => {
    expect(firstRoundPerMetadata(20, 10)).toBe(2);
    expect(firstRoundPerMetadata(21, 10)).toBe(3);
    expect(firstRoundPerMetadata(2000, 200)).toBe(10);
    expect(firstRoundPerMetadata(5, 200)).toBe(1);
  });

  it("survives an empty pool", () => {
    expect(firstRoundPerMetadata(7, 0)).toBe(7);
  });

  it("uses the override when given", () => {
    expect(firstRoundPerMetadata(20, 10, 5)).toBe(5);
    expect(firstRoundPerMetadata(20, 10, 5, 0.5)).toBe(5);
  });

  it("decodes ahead for the expected keep rate: ceil(size / (rate × pool))", () => {
    expect(firstRoundPerMetadata(20, 10, null, 0.5)).toBe(4);
    expect(firstRoundPerMetadata(300, 120, null, 0.5)).toBe(5);
    expect(firstRoundPerMetadata(2000, 200, undefined, 0.4)).toBe(25);
    expect(firstRoundPerMetadata(5, 200, null, 0.5)).toBe(1);
  });
});

describe("keepRate", () => {
  it("is 1 before anything was judged", () => {
    expect(keepRate(0, 0)).toBe(1);
  });

  it("is kept / judged above the floor", () => {
    expect(keepRate(3, 4)).toBe(0.75);
  });

  it("is floored", () => {
    expect(keepRate(0, 50)).toBe(0.1);
    expect(keepRate(1, 100, 0.05)).toBe(0.05);
  });
});

describe("waveSize", () => {
  it("sends exactly the remaining count while every instruction is assumed kept", () => {
    expect(waveSize(10, 100, 1)).toBe(10);
  });

  it("grows with a low keep rate", () => {
    expect(waveSize(10, 100, 0.5)).toBe(20);
    expect(waveSize(10, 100, 0.3)).toBe(34);
  });

  it("never exceeds what is waiting", () => {
    expect(waveSize(10, 4, 0.1)).toBe(4);
  });

  it("never exceeds the wave limit", () => {
    expect(waveSize(5000, 9000, 1, 1000)).toBe(1000);
    expect(waveSize(10, 100, 0.5, 1000)).toBe(20);
  });

  it("is 0 when nothing remains or nothing waits", () => {
    expect(waveSize(0, 100, 1)).toBe(0);
    expect(waveSize(-2, 100, 1)).toBe(0);
    expect(waveSize(10, 0, 1)).toBe(0);
  });
});

describe("topUpPerMetadata", () => {
  it("spreads remaining / rate over the metadata, rounded up", () => {
    expect(topUpPerMetadata(10, 5, 1, 20)).toBe(2);
    expect(topUpPerMetadata(10, 5, 0.5, 20)).toBe(4);
    expect(topUpPerMetadata(11, 5, 1, 20)).toBe(3);
  });

  it("is at least 1 and at most the bound", () => {
    expect(topUpPerMetadata(1, 50, 1, 20)).toBe(1);
    expect(topUpPerMetadata(1000, 2, 0.1, 20)).toBe(20);
  });

  it("is 0 when nothing remains or there is no metadata", () => {
    expect(topUpPerMetadata(0, 5, 1, 20)).toBe(0);
    expect(topUpPerMetadata(5, 0, 1, 20)).toBe(0);
  });
});

describe("yieldRate (top-up sizing)", () => {
  it("counts every loss: kept per instruction asked for, not per instruction filtered", () => {
    // 30 asked, 9 lost as near-duplicates, 21 filtered and all kept (a row without filtering): 0.7, not 1.
    expect(yieldRate(21, 30)).toBeCloseTo(0.7);
    expect(keepRate(21, 21)).toBe(1);
    expect(topUpPerMetadata(9, 3, yieldRate(21, 30), 20)).toBe(5);
    expect(yieldRate(0, 0)).toBe(1);
    expect(yieldRate(0, 40)).toBe(0.1);
  });
});

describe("spareCount", () => {
  it("is what the expected keep rate asks beyond the members, at most a quarter of them", () => {
    // 300 needed at 0.96: 313 instructions, 13 spares.
    expect(spareCount(300, 300, 1000, 0.96)).toBe(13);
    // 300 needed at 0.5 would ask 300 spares: a quarter of the members.
    expect(spareCount(300, 300, 1000, 0.5)).toBe(75);
  });

  it("never more than are waiting, nor past the wave limit", () => {
    expect(spareCount(300, 300, 305, 0.5)).toBe(5);
    expect(spareCount(1000, 2000, 4000, 0.5, 1000)).toBe(0);
    expect(spareCount(900, 2000, 4000, 0.5, 1000)).toBe(100);
  });

  it("none for an empty wave or when nothing remains", () => {
    expect(spareCount(0, 10, 50, 0.5)).toBe(0);
    expect(spareCount(10, 0, 50, 0.5)).toBe(0);
  });
});

describe("waveLimitFor", () => {
  it("is waveLimit when it is set, whatever the concurrency", () => {
    expect(waveLimitFor(50, 128)).toBe(50);
    expect(waveLimitFor(5000, 4)).toBe(5000);
  });

  it("unset: 1000 up to concurrency 41, then 24 instructions per call slot", () => {
    expect(waveLimitFor(null, 8)).toBe(1000);
    expect(waveLimitFor(null, 32)).toBe(1000);
    expect(waveLimitFor(null, 41)).toBe(1000);
    expect(waveLimitFor(null, 42)).toBe(1008);
    expect(waveLimitFor(null, 128)).toBe(3072);
  });
});

describe("writesRubricsAhead", () => {
  const full = { rubricsAhead: 10, ablation: "full", maxIterations: 4, ablationImprovements: 1 } as const;

  it("writes a metadata's rubrics ahead from `rubricsAhead` first-round instructions, in the full method", () => {
    expect(writesRubricsAhead(full, 1, 10)).toBe(true);
    expect(writesRubricsAhead(full, 1, 20)).toBe(true);
    expect(writesRubricsAhead(full, 1, 9)).toBe(false);
    expect(writesRubricsAhead({ ...full, rubricsAhead: 3 }, 1, 3)).toBe(true);
  });

  it("leaves them to the first need in top-up rounds, when turned off, and when nothing is ever improved", () => {
    expect(writesRubricsAhead(full, 2, 20)).toBe(false);
    expect(writesRubricsAhead({ ...full, rubricsAhead: 0 }, 1, 1000)).toBe(false);
    expect(writesRubricsAhead({ ...full, maxIterations: 1 }, 1, 1000)).toBe(false);
    expect(writesRubricsAhead({ ...full, ablation: "metadata-only" }, 1, 1000)).toBe(false);
    expect(writesRubricsAhead({ ...full, ablation: "no-metadata" }, 1, 1000)).toBe(false);
  });

  it("writes them for every metadata in the metadata-rubrics row, which improves every instruction", () => {
    const row = { ...full, ablation: "metadata-rubrics" } as const;
    expect(writesRubricsAhead(row, 1, 1)).toBe(true);
    expect(writesRubricsAhead({ ...row, ablationImprovements: 0 }, 1, 1000)).toBe(false);
  });
});
