import type { InstructionOutcome, Progress } from "../graphs/state.js";
import type { DroppedRecord, KeptPair, Lineage } from "./records.js";

function lineageOf(outcome: InstructionOutcome): Lineage {
  const { task } = outcome;
  return {
    metadataId: task.metadataId,
    metadataOrigin: task.metadataOrigin,
    seedIds: task.seedIds,
    basicInstruction: task.basicInstruction,
    actions: outcome.actions,
    iterations: outcome.history,
  };
}

const bump = (counts: Record<string, number>, key: string) => ({ ...counts, [key]: (counts[key] ?? 0) + 1 });

/**
 * Turn one wave's outcomes into output records, in dispatch order so the result does not depend on
 * which call finished first. Pairs kept after `size` is reached become "surplus" drops (still written,
 * never lost).
 */
export function settleWave(
  outcomes: readonly InstructionOutcome[],
  options: { size: number; progress: Progress; runId: string },
): { kept: KeptPair[]; dropped: DroppedRecord[]; progress: Progress } {
  const ordered = [...outcomes].sort((a, b) => a.task.order - b.task.order);
  const kept: KeptPair[] = [];
  const dropped: DroppedRecord[] = [];
  let progress: Progress = { ...options.progress };
  for (const outcome of ordered) {
    const lineage = lineageOf(outcome);
    const last = outcome.history.at(-1);
    progress = { ...progress, finished: progress.finished + 1 };
    if (outcome.status === "kept" && last && outcome.source && progress.kept < options.size) {
      kept.push({
        id: outcome.task.id,
        instruction: last.instruction,
        response: last.answers[outcome.source] ?? "",
        source: outcome.source,
        iteration: last.iteration,
        metadata: outcome.task.metadata,
        scores: last.scores,
        answers: last.answers,
        rawScores: last.rawScores,
        lineage,
        runId: options.runId,
      });
      progress = {
        ...progress,
        kept: progress.kept + 1,
        keptPerIteration: bump(progress.keptPerIteration, String(last.iteration)),
        reverseKept: progress.reverseKept + (outcome.source === "target" ? 1 : 0),
      };
      continue;
    }
    const reason = outcome.status === "failed" ? "failure" : outcome.status === "kept" ? "surplus" : "max-iterations";
    dropped.push({
      id: outcome.task.id,
      kind: "instruction",
      reason,
      ...(outcome.failure ? { step: outcome.failure.step as DroppedRecord["step"], error: outcome.failure.error } : {}),
      instruction: outcome.instruction,
      metadata: outcome.task.metadata,
      lineage,
      runId: options.runId,
    });
    progress = { ...progress, droppedByReason: bump(progress.droppedByReason, reason) };
    if (outcome.failure) progress = { ...progress, failuresByStep: bump(progress.failuresByStep, outcome.failure.step) };
  }
  return { kept, dropped, progress };
}
