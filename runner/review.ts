/**
 * A person's review, in files. A run that stops for the pool's review (the graph's `review-pool`
 * interrupt) writes the pool to `OUT.pool.jsonl` and stops with status "stopped"; `--resume` reads the edited
 * file back (checked line by line before anything is spent) and continues the graph with exactly that pool.
 * A run that stops for a look at its basic instructions (`review-instructions`) writes a sample of them to
 * `OUT.instructions.jsonl`; `--resume` continues it as it was.
 */
import { Command } from "@langchain/langgraph";
import { readPoolFile } from "../io/metadata.js";
import type { PoolEntry } from "../lib/records.js";
import { type InstructionSample, poolFileLine } from "../lib/review.js";
import { type OutputPaths, writeTextAtomic } from "./output.js";
import type { RunPlan } from "./plan.js";
import { readRunState } from "./run-state.js";

/** What the graph stopped with: the pool to review, or a sample of basic instructions to look at. */
export type PendingReview = { pool: PoolEntry[] } | { instructions: InstructionSample[] };

/** Said in the stop reason (and so in the run-state file, which a resume reads to know the pool file is due). */
const POOL_STOP = "waiting for review of the metadata pool";

/** The file a review is written to. */
export const reviewFile = (paths: OutputPaths, review: PendingReview) =>
  "pool" in review ? paths.pool : paths.instructions;

/** The message a run stopped for a review ends with. */
export function reviewStopMessage(paths: OutputPaths, review: PendingReview): string {
  if ("pool" in review)
    return `${POOL_STOP}: its ${review.pool.length} metadata are in ${paths.pool}; delete, edit or add lines (a line without an id is new), then resume`;
  const count = review.instructions.reduce((sum, sample) => sum + sample.instructions.length, 0);
  return `waiting for review of the basic instructions: ${count} of them (${review.instructions.length} metadata) are in ${paths.instructions} for a look; resume to continue`;
}

/** The review a graph interrupt (or a task's interrupts) carries, when it is one of ours. */
export function reviewOf(interrupts: unknown): PendingReview | undefined {
  if (!Array.isArray(interrupts)) return undefined;
  for (const item of interrupts as Array<{ value?: { pool?: unknown; instructions?: unknown } }>) {
    if (Array.isArray(item?.value?.pool)) return { pool: item.value.pool as PoolEntry[] };
    if (Array.isArray(item?.value?.instructions))
      return { instructions: item.value.instructions as InstructionSample[] };
  }
  return undefined;
}

export async function writeReviewFile(paths: OutputPaths, review: PendingReview): Promise<void> {
  const lines = "pool" in review ? review.pool.map(poolFileLine) : review.instructions.map((s) => JSON.stringify(s));
  await writeTextAtomic(reviewFile(paths, review), lines.map((line) => `${line}\n`).join(""));
}

/**
 * On `--resume` of a run that stopped for the pool's review: the edited pool file's lines, read and checked
 * (an `InputError` names file:line); the review step numbers the new ones.
 */
export async function reviewToResume(plan: RunPlan): Promise<unknown[] | undefined> {
  if (plan.resume === false) return undefined;
  const state = await readRunState(plan.paths.state);
  if (state?.status !== "stopped" || !state.stopReason?.includes(POOL_STOP)) return undefined;
  return readPoolRecords(plan);
}

export const readPoolRecords = async (plan: RunPlan) =>
  (await readPoolFile(plan.paths.pool, plan.config.skillsMax)).records;

/** The answer a waiting review gets on resume: the reviewed pool, or `true` (the look changes nothing). */
export function reviewAnswer(review: PendingReview, pool: unknown[] | undefined) {
  return new Command<unknown, never, never>({ resume: "pool" in review ? { pool } : true });
}

/** The review's step only listens with its setting on: a resume keeps it on, whatever the command line says. */
export function reviewContext<C extends { reviewPool: boolean; reviewInstructions: number }>(
  config: C,
  review: PendingReview,
): C {
  return "pool" in review
    ? { ...config, reviewPool: true }
    : { ...config, reviewInstructions: Math.max(1, config.reviewInstructions) };
}
