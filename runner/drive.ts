/**
 * Drive the graph: stream its node updates and route each one — kept pairs and drops to the files (each
 * record once), the counts to the state view, events to the caller. Returns the summary the graph ended
 * with (none when it was stopped or failed).
 */
import type { Callbacks } from "@langchain/core/callbacks/manager";
import type { RunSummary } from "../lib/summary.js";
import { poolMakeup } from "../lib/pool.js";
import type { RunControl } from "../models/control.js";
import { type PendingReview, reviewAnswer, reviewContext, reviewOf, reviewStopMessage } from "./review.js";
import type { Session } from "./session.js";
import { type NodeUpdate, isRunSummary } from "./state-view.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Graph tasks running at once: enough to keep `concurrency` calls busy (a task makes one or two calls at a time). */
export const taskConcurrency = (concurrency: number) => Math.max(2, 4 * concurrency);

export interface Drive {
  control: RunControl;
  callbacks?: Callbacks;
  /** The graph continues from its checkpoint (else it starts from the plan's input). */
  fromCheckpoint: boolean;
  /** The graph waits for a review: it continues with its answer (the edited pool file's lines, for the pool's). */
  waiting?: { review: PendingReview; pool?: unknown[] | undefined };
}

/** What the graph starts from: the plan's input, its checkpoint, or its checkpoint with the review's answer. */
function graphInput(session: Session, drive: Drive) {
  if (drive.waiting) return reviewAnswer(drive.waiting.review, drive.waiting.pool);
  return drive.fromCheckpoint ? null : { ...session.plan.input, runId: session.run.runId };
}

export async function driveGraph(session: Session, drive: Drive): Promise<RunSummary | undefined> {
  const { plan, run, parts } = session;
  const { runId } = run;
  const stream = await parts.graph.stream(graphInput(session, drive), {
    // The review's answer is taken by the review step, which only listens with reviewPool on.
    context: drive.waiting ? reviewContext(plan.config, drive.waiting.review) : plan.config,
    configurable: { thread_id: runId },
    streamMode: "updates",
    signal: drive.control.graphSignal,
    // Start fan-out tasks a few at a time rather than thousands at once (memory, event-loop stalls).
    // Safe only with a checkpointer that does not save "finished with no writes" (runner/saver.ts).
    maxConcurrency: taskConcurrency(plan.config.concurrency),
    callbacks: drive.callbacks,
    // The trace's root run is the run id, once: a resumed session traces under a new root.
    ...(!run.resumed && !drive.fromCheckpoint && UUID.test(runId) ? { runId } : {}),
  });
  let summary: RunSummary | undefined;
  for await (const chunk of stream) {
    for (const [node, update] of Object.entries(chunk)) {
      if (node === "__metadata__") continue;
      if (node === "__interrupt__") {
        session.review = reviewOf(update) ?? session.review;
        continue;
      }
      session.emit({ type: "node", node });
      if (update) summary = (await routeUpdate(session, update)) ?? summary;
    }
  }
  // The graph stopped for the pool's review: a stop like a budget's (resumable), with the pool file to edit.
  if (session.review) drive.control.stop({ kind: "review", message: reviewStopMessage(plan.paths, session.review) });
  return summary;
}

/** One node's update to where it goes; returns the run's summary when the update carries it. */
async function routeUpdate({ plan, run, view, emit }: Session, update: NodeUpdate): Promise<RunSummary | undefined> {
  view.apply(update);
  // The pool was just built: say so when mix-and-match could not work (read back typed, from the view).
  const poolStats = update.poolStats !== undefined ? view.get("poolStats") : undefined;
  const warning = poolStats ? poolMakeup(poolStats, plan.config.plausibilityAlertShare).warning : undefined;
  if (warning) emit({ type: "warning", message: warning });
  if (Array.isArray(update.kept) && update.kept.length > 0) {
    const fresh = await run.files.writeKept(update.kept);
    if (fresh.length > 0) emit({ type: "kept", pairs: fresh, total: run.files.keptCount });
  }
  if (Array.isArray(update.dropped) && update.dropped.length > 0) {
    const fresh = await run.files.writeDropped(update.dropped);
    if (fresh.length > 0) emit({ type: "dropped", records: fresh, total: run.files.droppedCount });
  }
  return isRunSummary(update.summary) ? update.summary : undefined;
}
