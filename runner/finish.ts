/**
 * Ending a session: a stop (budget, outage, Ctrl-C) writes a "stopped" summary and leaves the run
 * resumable; a failure is thrown; a graph that ended writes its summary, and a complete run's
 * checkpoints go. Either way the calls in flight are settled first, so a resumed run does not pay again.
 */
import { filters } from "../lib/ablation.js";
import { type RunSummary, buildSummary } from "../lib/summary.js";
import type { RunControl, StopInfo } from "../models/control.js";
import { strongTargetWarnings } from "../models/factory.js";
import type { Durable } from "./durable.js";
import type { ProgressSnapshot } from "./progress.js";
import { writeReviewFile } from "./review.js";
import type { Session } from "./session.js";

export interface Ending {
  control: RunControl;
  /** What the graph ended with: its summary, or the error that ended the stream. */
  summary?: RunSummary;
  failure?: unknown;
  snapshot: () => ProgressSnapshot;
}

export interface Ended {
  summary: RunSummary;
  /** The run completed and its checkpoints were removed. */
  forgotten: boolean;
}

/** Where the run's checkpoints are; `ownsFile`: the default SQLite file beside the output, removed once empty. */
export interface FinishStore {
  durable: Durable;
  keepCheckpoints: boolean;
  ownsFile: boolean;
}

export async function endSession(session: Session, ending: Ending, store: FinishStore): Promise<Ended> {
  const { control } = ending;
  // A node that failed stops the run through the control (graphs/guard.ts): that is a failure, not a stop.
  const failed = control.stopped?.kind === "failed";
  const failure = failed ? (control.error ?? ending.failure) : ending.failure;
  const stop = failed ? undefined : control.stopped;
  if (stop || failure) await settleCalls(session, control);
  session.emit({ type: "progress", progress: ending.snapshot() });
  if (stop) return { summary: await endStopped(session, stop), forgotten: false };
  if (failure) throw failure;
  if (!ending.summary) throw new Error("the graph ended without a summary");
  return endFinished(session, ending.summary, store);
}

/** Let the calls in flight finish and be recorded (bounded by the call timeout), unless they were cancelled. */
async function settleCalls({ plan, run, parts }: Session, control: RunControl): Promise<void> {
  if (!control.requestSignal.aborted) {
    const bound = new Promise((resolve) => setTimeout(resolve, plan.config.timeoutSeconds * 1000 + 1000).unref());
    await Promise.race([parts.services.scheduler.idle(), bound]);
  }
  await run.journal?.flush();
}

/** A stopped run's summary, from the graph state the view holds and what the ledger counted. */
function stoppedSummary({ plan, run, parts, view }: Session, stop: StopInfo): RunSummary {
  const { config } = plan;
  const { factory } = parts;
  const resumable = run.resumeCommand !== undefined;
  return buildSummary(view.values(), config, {
    stopReason: `stopped: ${stop.message}${resumable ? "" : " (not resumable: no checkpoints were kept)"}`,
    models: {
      strong: factory.describe("strong"),
      target: factory.describe("target"),
      judge: factory.describe("judge"),
    },
    finishedAt: Date.now(),
    stopped: true,
    ledger: parts.services.ledger.snapshot(),
    warnings: strongTargetWarnings(factory, filters(config.ablation)),
  });
}

async function endStopped(session: Session, stop: StopInfo): Promise<RunSummary> {
  const { run } = session;
  const summary = stoppedSummary(session, stop);
  if (stop.kind === "review" && session.review) await writeReviewFile(session.plan.paths, session.review);
  await run.files.writeSummary(summary);
  await run.state.save("stopped", { stopReason: summary.stopReason });
  session.emit({ type: "summary", summary, ...(run.resumeCommand ? { resume: run.resumeCommand } : {}) });
  return summary;
}

async function endFinished({ run, emit }: Session, summary: RunSummary, store: FinishStore): Promise<Ended> {
  await run.journal?.flush();
  await run.files.writeSummary(summary);
  await run.state.save(summary.status, { stopReason: summary.stopReason });
  const forget = summary.status === "complete" && !store.keepCheckpoints;
  if (forget) await store.durable.forget(run.runId, { dropFile: store.ownsFile });
  emit({ type: "summary", summary });
  return { summary, forgotten: forget };
}
