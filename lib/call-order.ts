import type { PipelineStep } from "./records.js";

/**
 * Which waiting call goes first when every call slot is taken: the one with the most of its instruction's
 * chain still ahead of it. A call's depth counts the dependent rounds its instruction went through before
 * it: iteration i answers at 3(i - 1), judges at 3(i - 1) + 1, and the improvement that makes iteration i
 * (action-apply, and the metadata's rubrics before the first one) at 3(i - 2) + 2. Setup calls (encode,
 * the pool check, decode) are 0. The scheduler serves lower depths first (first come, first served within
 * a depth).
 *
 * Why: a wave ends when its last instruction does. Served first come, first served, the instructions
 * started last in a wave run their whole chains, up to four iterations of answer -> judge -> improve, after
 * everything else has ended, with the slots nearly empty. Served shallow first, the instructions of a wave
 * move through their iterations together, so what is left at the end is the few last steps of the few
 * instructions that need all four iterations, beside many others.
 */
export function callDepth(step: PipelineStep, iteration?: number): number {
  const i = Math.max(1, iteration ?? 1);
  switch (step) {
    case "answer-strong":
    case "answer-target":
      return 3 * (i - 1);
    case "judge":
      return 3 * (i - 1) + 1;
    case "action-apply":
      return 3 * Math.max(0, i - 2) + 2;
    case "rubric-generate":
      return 2;
    default:
      return 0;
  }
}
