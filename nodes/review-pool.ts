import { type LangGraphRunnableConfig, interrupt } from "@langchain/langgraph";
import { InputError } from "../io/input-error.js";
import { poolFromRecords } from "../io/metadata.js";
import type { PoolEntry } from "../lib/records.js";
import { reviewedStats } from "../lib/review.js";
import { runOf } from "./runtime.js";
import type { CodecState, CodecUpdate } from "./state.js";

/** What the review's interrupt carries: the pool as built, for a person to delete, edit or add to. */
export interface PoolReview {
  pool: PoolEntry[];
  /** Why the last answer was refused (the review asks again). */
  error?: string;
}

/** How a review resumes: `true` (or nothing) accepts the pool as it is; `{ pool }` replaces it. */
export type PoolReviewAnswer = true | { pool: unknown[] };

const WHERE = "the reviewed pool, entry";

/** The resumed pool checked entry by entry; a malformed entry is an error naming its position. */
function editedPool(answer: unknown, skillsMax: number) {
  const pool = (answer as { pool?: unknown } | null)?.pool;
  if (!Array.isArray(pool))
    throw new Error(
      `resume the pool review with true (accept the pool) or { pool: [{ useCase, skills }, ...] }, got ${JSON.stringify(answer)?.slice(0, 80)}`,
    );
  try {
    return poolFromRecords(
      pool.map((value, index) => ({ value, line: index + 1 })),
      WHERE,
      skillsMax,
    );
  } catch (error) {
    if (error instanceof InputError)
      throw new Error(error.line ? `${WHERE} ${error.line}: ${error.reason}` : error.reason);
    throw error;
  }
}

/** LangGraph's own error when a graph that interrupts has no checkpointer, said in the run's terms. */
function missingCheckpointer(error: unknown): boolean {
  return (error as { lc_error_code?: string } | null)?.lc_error_code === "MISSING_CHECKPOINTER";
}

/** Calls `ask` (an `interrupt`), saying in the run's terms when the graph has no checkpointer. */
export function needsCheckpointer<T>(ask: () => T, setting: string): T {
  try {
    return ask();
  } catch (error) {
    if (missingCheckpointer(error))
      throw new Error(
        `${setting} needs a checkpointer to stop for the review and continue after it: compile the graph with one (e.g. MemorySaver), or run it on the dev server`,
        { cause: error },
      );
    throw error;
  }
}

const ask = (review: PoolReview): unknown =>
  needsCheckpointer(() => interrupt<PoolReview, unknown>(review), "reviewPool");

/**
 * The paper's manual check of the metadata pool, made first-class: with `reviewPool` on, the graph stops
 * here (LangGraph `interrupt`) with the pool as the interrupt's value, and continues with what the person
 * resumes it with. Runs before any instruction is decoded, so a review spends nothing. A malformed answer
 * asks again, with the problem in the interrupt's `error` (LangGraph keeps every answer given to a node,
 * so failing the node would replay the bad answer on every later resume).
 */
export function reviewPool(
  state: CodecState,
  runtime: LangGraphRunnableConfig,
): Pick<CodecUpdate, "pool" | "poolStats"> {
  const { config } = runOf(runtime);
  if (!config.reviewPool || state.pool.length === 0) return {};
  let review: PoolReview = { pool: state.pool };
  for (;;) {
    const answer = ask(review);
    if (answer === true || answer === undefined || answer === null) return {};
    try {
      const reviewed = editedPool(answer, config.skillsMax);
      return { pool: reviewed.pool, poolStats: reviewedStats(state.poolStats, reviewed) };
    } catch (error) {
      review = { pool: state.pool, error: (error as Error).message };
    }
  }
}
