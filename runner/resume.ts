/**
 * Resume policy: which run these outputs continue (or that a fresh one starts), refused when there is
 * nothing to resume or the run was started with other settings or input; and where in the graph a
 * resumed run picks up.
 */
import { randomUUID } from "node:crypto";
import type { Durable } from "./durable.js";
import { describeCheckpoint } from "./checkpoint-spec.js";
import { RunSetupError } from "./errors.js";
import type { RunPlan } from "./plan.js";
import { type RunState, dataSettings, readRunState, settingChanges } from "./run-state.js";

export { RunSetupError };

export interface RunIdentity {
  runId: string;
  resumed: boolean;
  /** The run-state file found beside the outputs (another run's, when they are overwritten). */
  previous?: RunState;
}

/** The run to start or continue; throws `RunSetupError` when the plan cannot be followed. */
export async function resolveRun(plan: RunPlan, durable: Durable): Promise<RunIdentity> {
  const previous = await readRunState(plan.paths.state);
  if (!plan.resume) return { runId: plan.runId ?? randomUUID(), resumed: false, previous };
  if (durable.spec.kind === "none") throw new RunSetupError("--resume needs checkpoints: --checkpoint none keeps none");
  const runId = typeof plan.resume === "string" ? plan.resume : previous?.runId;
  if (!runId)
    throw new RunSetupError(
      `there is no run to resume for ${plan.paths.kept} (no ${plan.paths.state}); pass the run id: --resume RUN_ID`,
    );
  const same = previous?.runId === runId ? previous : undefined;
  if (same?.status === "complete")
    throw new RunSetupError(`run ${runId} is complete: nothing to resume (see ${plan.paths.summary})`);
  await checkSameRun(plan, durable, runId, same);
  return { runId, resumed: true, previous: same ?? previous };
}

/** The run exists (checkpoints or a journal) and was started with this plan's settings and input. */
async function checkSameRun(plan: RunPlan, durable: Durable, runId: string, same: RunState | undefined): Promise<void> {
  // What the run was started with, as its journal recorded it (or the run-state file beside the output).
  const recorded =
    (await (await durable.journal(runId))?.run()) ??
    (same ? { fingerprint: same.fingerprint, settings: same.settings } : undefined);
  const tuple = await durable.saver?.getTuple({ configurable: { thread_id: runId } });
  if (!tuple && !recorded)
    throw new RunSetupError(`no checkpoints for run ${runId} in ${describeCheckpoint(durable.spec)}`);
  if (recorded && recorded.fingerprint !== plan.fingerprint) {
    const changes = settingChanges(recorded.settings ?? {}, dataSettings(plan.config));
    throw new RunSetupError(
      `run ${runId} was started with other settings or input${changes.length > 0 ? `: ${changes.join("; ")}` : " (the seeds or metadata differ)"}. ` +
        "Resume with the original ones, or start a new run (--force).",
    );
  }
}
