import { describe, expect, it } from "vitest";
import { DEFAULT_HEAP_GROWTH_PERCENT, HeapGrowthError, heapGrowthPercent } from "../../cli/heap.js";

describe("CODECLM_HEAP_GROWTH", () => {
  it("defaults to a fixed factor of 2 (100%) when unset or empty", () => {
    expect(DEFAULT_HEAP_GROWTH_PERCENT).toBe(100);
    expect(heapGrowthPercent({})).toBe(100);
    expect(heapGrowthPercent({ CODECLM_HEAP_GROWTH: " " })).toBe(100);
  });

  it("takes a whole percent, 0 leaving V8's adaptive factor", () => {
    expect(heapGrowthPercent({ CODECLM_HEAP_GROWTH: "0" })).toBe(0);
    expect(heapGrowthPercent({ CODECLM_HEAP_GROWTH: "150" })).toBe(150);
  });

  it.each(["abc", "-5", "1.5", "5000"])("refuses %s with the variable's name and what it expects", (value) => {
    expect(() => heapGrowthPercent({ CODECLM_HEAP_GROWTH: value })).toThrow(HeapGrowthError);
    expect(() => heapGrowthPercent({ CODECLM_HEAP_GROWTH: value })).toThrow(/CODECLM_HEAP_GROWTH=.*whole percent/);
  });
});
