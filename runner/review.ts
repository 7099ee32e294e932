/**
 * The metadata pool's review, in files: a run that stops for it (the graph's `review-pool` interrupt)
 * writes the pool to `OUT.pool.jsonl` and stops with status "stopped"; `--resume` reads the edited file back
 * (checked line by line before anything is spent) and continues the graph with exactly that pool.
 */
import { Command } from "@langchain/langgraph";
import { readPoolFile } from "../io/metadata.js";
import type { PoolEntry } from "../lib/records.js";
import { poolFileLine } from "../lib/review.js";
import { writeTextAtomic } from "./output.js";
import type { RunPlan } from "./plan.js";
import { readRunState } from "./run-state.js";

/** Said in the stop reason (and so in the run-state file, which a resume reads to know a review is due). */
export const REVIEW_STOP = "waiting for review";

/** The message a run stopped for the review ends with. */
export const reviewStopMessage = (poolFile: string, size: number) =>
  `${REVIEW_STOP}: the metadata pool (${size} metadata) is in ${poolFile}; delete, edit or add lines (a line without an id is new), then resume`;

/** The pool a graph interrupt carries, when it is the review's. */
export function reviewedPoolOf(interrupts: unknown): PoolEntry[] | undefined {
  if (!Array.isArray(interrupts)) return undefined;
  for (const item of interrupts as Array<{ value?: { pool?: unknown } }>) {
    if (Array.isArray(item?.value?.pool)) return item.value.pool as PoolEntry[];
  }
  return undefined;
}

export async function writePoolFile(path: string, pool: readonly PoolEntry[]): Promise<void> {
  await writeTextAtomic(path, pool.map((entry) => `${poolFileLine(entry)}\n`).join(""));
}

/**
 * On `--resume` of a run that stopped for the review: the edited pool file's lines, read and checked (an
 * `InputError` names file:line); the review step numbers the new ones.
 */
export async function reviewToResume(plan: RunPlan): Promise<unknown[] | undefined> {
  if (plan.resume === false) return undefined;
  const state = await readRunState(plan.paths.state);
  if (state?.status !== "stopped" || !state.stopReason?.includes(REVIEW_STOP)) return undefined;
  return (await readPoolFile(plan.paths.pool, plan.config.skillsMax)).records;
}

/** How the graph continues after the review: with the reviewed pool as the interrupt's answer. */
export const resumeWithPool = (pool: readonly unknown[]) => new Command<unknown, never, never>({ resume: { pool } });
