/**
 * Open or resume a run: decide which run it is, open its output files (a resumed run's keep what they
 * hold, and get back what its checkpoints know and the files lost), record it in its journal, rebuild
 * its near-duplicate index, and say "running" in the run-state file.
 */
import { NearDuplicateIndex } from "../lib/dedupe.js";
import type { CallJournal, JournalTotals } from "../models/journal.js";
import { type Durable, describeCheckpoint } from "./durable.js";
import { RunWriter } from "./output.js";
import type { RunPlan } from "./plan.js";
import { reconcileFromCheckpoints } from "./reconcile.js";
import { type RunIdentity, resolveRun } from "./resume.js";
import { indexFromOutputs } from "./run-index.js";
import { type RunStateFile, dataSettings, runStateFile, sessionState } from "./run-state.js";

export interface OpenedRun extends RunIdentity {
  files: RunWriter;
  /** Records the checkpoints held and the files had lost, appended on opening. */
  recovered: { kept: number; dropped: number };
  journal?: CallJournal;
  /** What the journal says the run spent in earlier sessions. */
  spentBefore?: JournalTotals;
  /** Every instruction the output files hold (empty for a fresh run). */
  dedupe: NearDuplicateIndex;
  state: RunStateFile;
  /** What to type to continue the run, when it keeps checkpoints. */
  resumeCommand?: string;
}

/** Open the run the plan asks for; on failure nothing is left open. */
export async function openRun(
  plan: RunPlan,
  durable: Durable,
  resumeCommand: (runId: string) => string,
): Promise<OpenedRun> {
  const identity = await resolveRun(plan, durable);
  const { runId, resumed, previous } = identity;
  if (!resumed && previous && previous.runId !== runId && durable.spec.kind !== "none") {
    // Outputs are being overwritten (--force): the old run's checkpoints are of no further use.
    await durable.forget(previous.runId).catch(() => {});
  }
  const files = new RunWriter(plan.paths);
  try {
    await files.open({ append: resumed });
    const recovered =
      resumed && durable.saver ? await reconcileFromCheckpoints(durable.saver, runId, files) : { kept: 0, dropped: 0 };
    const journal = await durable.journal(runId);
    await journal?.recordRun({ fingerprint: plan.fingerprint, settings: dataSettings(plan.config) });
    const spentBefore = journal && resumed ? await journal.load() : undefined;
    const dedupe = resumed
      ? await indexFromOutputs(plan.paths, plan.config.dedupeThreshold)
      : new NearDuplicateIndex(plan.config.dedupeThreshold);
    const command = durable.spec.kind !== "none" ? resumeCommand(runId) : undefined;
    const session = sessionState({
      runId,
      previous,
      checkpoint: describeCheckpoint(durable.spec),
      fingerprint: plan.fingerprint,
      settings: dataSettings(plan.config),
      resume: command,
    });
    const state = runStateFile(plan.paths.state, session, () => files.keptCount);
    await state.save("running");
    return { ...identity, files, recovered, journal, spentBefore, dedupe, state, resumeCommand: command };
  } catch (error) {
    await files.close();
    throw error;
  }
}
