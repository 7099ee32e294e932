import type { Callbacks } from "@langchain/core/callbacks/manager";
import { setMaxListeners } from "node:events";
import { CallAccounts, type Spend } from "../lib/accounts.js";
import type { CodecConfig, CodecConfigInput } from "../lib/config.js";
import type { SharedBudget } from "../models/shared-budget.js";
import type { RunSummary } from "../lib/summary.js";
import { RunControl } from "../models/control.js";
import { installLeanRunContext } from "../models/lean-context.js";
import { driveGraph } from "./drive.js";
import { type CheckpointSpec, type Durable, describeCheckpoint, openDurable } from "./durable.js";
import type { RunEvent } from "./events.js";
import { type Ended, endSession } from "./finish.js";
import { type OutputLock, acquireOutputLock } from "./lock.js";
import { type OpenedRun, openRun } from "./open.js";
import { type OutputPaths, createOutputFolders } from "./output.js";
import { type RunInput, type RunPlan, planRun, plannedFiles, usesDefaultCheckpointFile } from "./plan.js";
import { progressBasis, progressSnapshot } from "./progress.js";
import { type RunGraphOptions, buildRunGraph } from "./services.js";
import type { Session } from "./session.js";
import { resumePoint } from "./state-view.js";
import { watchRun } from "./watch.js";
import { readPoolRecords, reviewOf, reviewToResume } from "./review.js";

export type { RunEvent } from "./events.js";
export type { ProgressSnapshot } from "./progress.js";
export { RunSetupError } from "./resume.js";
export { taskConcurrency } from "./drive.js";

export interface RunOptions {
  /** Seeds (with `seedSelection` when the caller merged and sampled them already) or user-written metadata. */
  input: RunInput;
  config: CodecConfigInput;
  paths: OutputPaths;
  graph?: RunGraphOptions;
  /** Id of a fresh run (default: a new UUID); a UUID is also the root run id in traces. */
  runId?: string;
  /** Callback handlers for the graph run: a LangSmith tracer, or the callbacks of an agent calling this as a tool. */
  callbacks?: Callbacks;
  /** Where checkpoints and the call journal go (default: SQLite at `paths.checkpoint`). */
  checkpoint?: CheckpointSpec;
  /** Continue the run these outputs belong to (true), or the run with this id. */
  resume?: boolean | string;
  /** Stop control: `stop` for a clean stop (Ctrl-C), `abortNow` to also cancel calls in flight. */
  control?: RunControl;
  /** Aborting it stops the run cleanly (like `control.stop`). */
  signal?: AbortSignal;
  /** What to tell the user to type to resume (the CLI passes its own command line). */
  resumeCommand?: (runId: string) => string;
  /** The lock of `paths.lock`, when the caller took it already (default: taken here, released at the end). */
  outputLock?: OutputLock;
  /** Keep checkpoints and journal after the run completes (default: removed, they are no longer needed). */
  keepCheckpoints?: boolean;
  progressIntervalMs?: number;
  /** Jitter source for retries (tests). */
  random?: () => number;
  onEvent?: (event: RunEvent) => void;
  /** A budget shared with other processes for this run (`--engine dbos`), given what the run paid before. */
  sharedBudget?: (runId: string, config: CodecConfig, paidBefore: Spend) => SharedBudget;
  /** A line about the workers for the progress display (`--engine dbos`). */
  fleetNotice?: (runId: string) => string | undefined;
}

/**
 * Run the graph and stream its results to files. Kept pairs and drops are appended as the graph decides
 * them (they are not kept in graph state, so memory stays flat); with checkpoints (SQLite by default),
 * a run that crashed, was killed or stopped continues with `resume`, paying again for at most the calls
 * that were in flight, and the files end with no duplicate and no missing record. A budget reached, an
 * endpoint that stays down, or `control.stop()` end the run cleanly with status "stopped".
 */
export async function runToFiles(options: RunOptions): Promise<RunSummary> {
  const plan = planRun(options);
  await createOutputFolders(plannedFiles(plan));
  // One writer per output set: a second process (fresh, --resume or --force) is refused here.
  const lock = options.outputLock ?? (await acquireOutputLock(plan.paths.lock, "codeclm generate"));
  try {
    return await writeRun(plan, options);
  } finally {
    if (lock !== options.outputLock) await lock.release();
  }
}

/** Open (or resume) the run, run one session of it, and close what it opened; a failure is recorded in the run-state file. */
async function writeRun(plan: RunPlan, options: RunOptions): Promise<RunSummary> {
  // LangGraph composes one abort signal per superstep that every running task listens on: hundreds at a
  // time here, which is expected, not a leak. Node would warn past 10. Infinity, not 0: with 0 every new
  // AbortSignal reports no limit, and undici (fetch) builds and discards an ERR_INVALID_ARG_TYPE per request.
  setMaxListeners(Number.POSITIVE_INFINITY);
  // No LangSmith run tree per runnable when nothing traces (models/lean-context.ts).
  installLeanRunContext();
  // The edited pool of a run that stopped for its review is checked before anything is opened or spent.
  const reviewed = await reviewToResume(plan);
  const durable = await openDurable(plan.checkpoint);
  let run: OpenedRun | undefined;
  let forgotten = false;
  try {
    run = await openRun(plan, durable, options.resumeCommand ?? ((runId) => `runToFiles({ ..., resume: "${runId}" })`));
    const ended = await runSession(plan, run, durable, { ...options, reviewed });
    forgotten = ended.forgotten;
    return ended.summary;
  } catch (error) {
    await run?.state.fail(error);
    throw error;
  } finally {
    await run?.files.close();
    // The default checkpoint file beside the output goes too once it holds nothing.
    await durable.close({ removeIfEmpty: forgotten && usesDefaultCheckpointFile(plan) });
  }
}

/** Build the run's graph, drive it with progress and stop handling, then end the session. */
async function runSession(
  plan: RunPlan,
  run: OpenedRun,
  durable: Durable,
  options: RunOptions & { reviewed?: unknown[] | undefined },
): Promise<Ended> {
  const control = options.control ?? new RunControl();
  const parts = buildRunGraph({
    config: plan.config,
    options: options.graph,
    control,
    journal: run.journal,
    spentBefore: run.spentBefore,
    dedupe: run.dedupe,
    checkpointer: durable.saver,
    random: options.random,
    sharedBudget: options.sharedBudget?.(run.runId, plan.config, new CallAccounts(run.spentBefore).spent()),
  });
  const point = await resumePoint(parts.graph, run.runId, run.resumed);
  const session: Session = { plan, run, parts, view: point.view, emit: (event) => options.onEvent?.(event) };
  session.emit({
    type: "start",
    runId: run.runId,
    resumed: run.resumed,
    size: plan.config.size,
    checkpoint: describeCheckpoint(durable.spec),
    recovered: run.recovered,
  });
  const basis = progressBasis(
    { runId: run.runId, input: plan.input, config: plan.config, customModels: Boolean(options.graph?.models) },
    parts.services,
  );
  const snapshot = () => {
    const now = progressSnapshot(basis, { files: run.files, view: point.view, services: parts.services });
    const fleet = options.fleetNotice?.(run.runId);
    return fleet ? { ...now, notices: [...(now.notices ?? []), fleet] } : now;
  };
  const stopWatching = watchRun({
    control,
    signal: options.signal,
    emit: options.onEvent,
    intervalMs: options.progressIntervalMs ?? 1000,
    snapshot,
    inFlight: () => parts.services.scheduler.inFlight,
  });
  let summary = point.summary;
  let failure: unknown;
  try {
    summary ??= await driveGraph(session, {
      control,
      callbacks: options.callbacks,
      fromCheckpoint: point.fromCheckpoint,
      ...(await waitingReview(plan, point.waiting, options.reviewed)),
    });
  } catch (error) {
    failure = error;
  } finally {
    stopWatching();
  }
  return endSession(
    session,
    { control, summary, failure, snapshot },
    { durable, keepCheckpoints: options.keepCheckpoints ?? false, ownsFile: usesDefaultCheckpointFile(plan) },
  );
}

/** A graph waiting at a review continues with its answer: the edited pool file's lines for the pool's. */
async function waitingReview(plan: RunPlan, interrupts: unknown[] | undefined, reviewed: unknown[] | undefined) {
  const review = reviewOf(interrupts);
  if (!review) return {};
  return { waiting: { review, pool: "pool" in review ? (reviewed ?? (await readPoolRecords(plan))) : undefined } };
}
