import type { RawScores, Scores } from "./records.js";

export type Verdict = "keep-strong" | "keep-target" | "improve";
export type NextStep = "keep" | "action-apply" | "drop";

/** Each model's two scores (one per answer order) averaged; gap = strong - target. */
export function averageScores(raw: RawScores): Scores {
  const strong = (raw.strongFirst.strong + raw.targetFirst.strong) / 2;
  const target = (raw.strongFirst.target + raw.targetFirst.target) / 2;
  return { strong, target, gap: strong - target };
}

/** §4.3: G > θ keeps the strong answer, G < -θ the target's; |G| <= θ asks for a harder instruction. */
export function verdictFor(gap: number, theta: number): Verdict {
  if (gap > theta) return "keep-strong";
  if (gap < -theta) return "keep-target";
  return "improve";
}

/** After judging iteration `iteration` (1-based; the basic instruction is 1), where the instruction goes. */
export function nextStep(verdict: Verdict, iteration: number, maxIterations: number): NextStep {
  if (verdict !== "improve") return "keep";
  return iteration < maxIterations ? "action-apply" : "drop";
}

/** The judge's scale (the paper's, from Vicuna's evaluation). */
export const SCORE_SCALE = { min: 1, max: 10 } as const;
/** The largest gap two averaged scores can have: a θ at or above it can never keep anything. */
export const MAX_SCORE_GAP = SCORE_SCALE.max - SCORE_SCALE.min;

/** A judge score must be a number on the 1-10 scale; anything else is malformed output. */
export function checkScore(value: unknown): string | undefined {
  if (typeof value !== "number" || !Number.isFinite(value)) return `score is not a number: ${JSON.stringify(value)}`;
  if (value < SCORE_SCALE.min || value > SCORE_SCALE.max) return `score ${value} is outside 1-10`;
  return undefined;
}
