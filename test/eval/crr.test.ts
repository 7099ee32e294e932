import { describe, expect, it } from "vitest";
import {
  combineOrders,
  crr,
  orderVerdict,
  ordersAgree,
  parseJudgement,
  percent,
  preferredPosition,
  scoresBySide,
  tallyOutcomes,
} from "../../lib/crr.js";

describe("parseJudgement (the Vicuna first line)", () => {
  it.each([
    ["8 7", 8, 7],
    ["8, 7", 8, 7],
    ["8,7", 8, 7],
    ["8.5 7", 8.5, 7],
    ["10 1\nAssistant 1 was better.", 10, 1],
    ["\n\n  9  4  \nexplanation", 9, 4],
    ["**8 6**\nbecause", 8, 6],
    ["`7, 7`", 7, 7],
  ])("reads %j", (text, first, second) => {
    expect(parseJudgement(text)).toEqual({ ok: true, first, second });
  });

  it.each([
    ["", "empty"],
    ["Assistant 1: 8, Assistant 2: 7", "not two scores"],
    ["8", "not two scores"],
    ["8 7 6", "not two scores"],
    ["Here is my evaluation.\n8 7", "not two scores"],
    ["11 3", "outside 1-10"],
    ["0 5", "outside 1-10"],
    ["8/10 7/10", "not two scores"],
  ])("rejects %j", (text, problem) => {
    const parsed = parseJudgement(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain(problem);
  });
});

describe("the swap", () => {
  it("maps Assistant 1/2 back to the sides by who was shown first", () => {
    expect(scoresBySide(8, 6, "model")).toEqual({ model: 8, reference: 6 });
    expect(scoresBySide(8, 6, "reference")).toEqual({ model: 6, reference: 8 });
  });

  it("a judge that always prefers the first answer gives opposite verdicts in the two orders", () => {
    const modelFirst = orderVerdict(scoresBySide(8, 6, "model"));
    const referenceFirst = orderVerdict(scoresBySide(8, 6, "reference"));
    expect([modelFirst, referenceFirst]).toEqual(["model", "reference"]);
    expect(ordersAgree(modelFirst, referenceFirst)).toBe(false);
    expect(combineOrders(modelFirst, referenceFirst)).toBe("tie");
    expect(preferredPosition(8, 6)).toBe("first");
  });
});

describe("the wins-twice rule", () => {
  it("wins only when the model under test scores higher in both orders", () => {
    expect(combineOrders("model", "model")).toBe("win");
  });
  it("loses only when the reference scores higher in both orders", () => {
    expect(combineOrders("reference", "reference")).toBe("loss");
  });
  it.each([
    ["model", "reference"],
    ["reference", "model"],
  ] as const)("a split decision (%s, %s) is a tie", (a, b) => {
    expect(combineOrders(a, b)).toBe("tie");
  });
  it.each([
    ["model", "tie"],
    ["tie", "model"],
    ["reference", "tie"],
    ["tie", "reference"],
    ["tie", "tie"],
  ] as const)("an equal score in either order (%s, %s) is a tie", (a, b) => {
    expect(combineOrders(a, b)).toBe("tie");
  });
  it("equal scores are a tie within one order", () => {
    expect(orderVerdict({ model: 7, reference: 7 })).toBe("tie");
    expect(orderVerdict({ model: 7.5, reference: 7 })).toBe("model");
  });
});

describe("CRR arithmetic", () => {
  it("is (wins + ties) / total", () => {
    expect(crr(3, 2, 10)).toBe(0.5);
    expect(crr(0, 0, 4)).toBe(0);
    expect(crr(4, 0, 4)).toBe(1);
    expect(crr(0, 0, 0)).toBeNull();
  });

  it("reproduces the paper's Vicuna figure: 71 of 80 recovered is 88.75%", () => {
    expect(percent(crr(50, 21, 80))).toBe("88.75%");
    expect(percent(null)).toBe("n/a");
  });

  it("tallies outcomes overall and by category, failures apart and never as ties", () => {
    const totals = tallyOutcomes([
      { outcome: "win", category: "a", consistent: true, preferredPositions: ["first", "second"] },
      { outcome: "tie", category: "a", consistent: false, preferredPositions: ["first", "first"] },
      { outcome: "loss", category: "b", consistent: true, preferredPositions: ["second", "first"] },
      { outcome: "judge-failure", category: "b" },
      { outcome: "answer-failure" },
      { outcome: "tie", category: "b", consistent: true, preferredPositions: ["equal", "equal"] },
    ]);
    expect(totals).toMatchObject({
      wins: 1,
      ties: 2,
      losses: 1,
      total: 4,
      judgeFailures: 1,
      answerFailures: 1,
      items: 6,
    });
    expect(totals.crr).toBe(0.75);
    expect(totals.byCategory.a).toMatchObject({ wins: 1, ties: 1, losses: 0, total: 2, crr: 1 });
    expect(totals.byCategory.b).toMatchObject({ wins: 0, ties: 1, losses: 1, total: 2, crr: 0.5, judgeFailures: 1 });
    expect(totals.positionConsistency).toEqual({ consistent: 3, judged: 4, rate: 0.75 });
    expect(totals.positionPreference).toEqual({ first: 4, second: 2, equal: 2 });
  });
});
