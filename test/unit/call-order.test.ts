import { describe, expect, it } from "vitest";
import { callDepth } from "../../lib/call-order.js";

describe("callDepth", () => {
  it("counts the dependent rounds an instruction went through before the call", () => {
    expect(callDepth("encode")).toBe(0);
    expect(callDepth("decode")).toBe(0);
    expect(callDepth("answer-strong", 1)).toBe(0);
    expect(callDepth("answer-target", 1)).toBe(0);
    expect(callDepth("judge", 1)).toBe(1);
    expect(callDepth("rubric-generate")).toBe(2);
    // The trace of action-apply names the iteration it makes.
    expect(callDepth("action-apply", 2)).toBe(2);
    expect(callDepth("answer-strong", 2)).toBe(3);
    expect(callDepth("judge", 2)).toBe(4);
    expect(callDepth("action-apply", 3)).toBe(5);
    expect(callDepth("judge", 4)).toBe(10);
  });

  it("each step of an instruction's chain comes after the one before it", () => {
    const chain: Array<[Parameters<typeof callDepth>[0], number]> = [
      ["answer-target", 1],
      ["judge", 1],
      ["action-apply", 2],
      ["answer-strong", 2],
      ["judge", 2],
      ["action-apply", 3],
      ["answer-target", 3],
      ["judge", 3],
      ["action-apply", 4],
      ["answer-strong", 4],
      ["judge", 4],
    ];
    const depths = chain.map(([step, iteration]) => callDepth(step, iteration));
    expect(depths).toEqual([...depths].sort((a, b) => a - b));
    expect(new Set(depths).size).toBe(depths.length);
  });
});
