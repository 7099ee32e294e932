import type { InstructionOutcome, Progress } from "./tasks.js";
import { type NearDuplicateIndex, type NearDuplicateMatch, finalInstructionId } from "./dedupe.js";
import type { DroppedRecord, KeptPair, Lineage } from "./records.js";
import type { DedupeStage } from "./dedupe-stage.js";

/** The run's near-duplicate check for kept pairs' final instructions (nodes/collect.ts). */
export interface RepeatCheck {
  /** The earlier instruction of the run (not the pair's own basic one) that `instruction` nearly repeats. */
  find(id: string, instruction: string, basic: string): NearDuplicateMatch | undefined;
  /** The pair is kept: later instructions are compared with its final instruction too. */
  keep(id: string, instruction: string, basic: string): void;
}

/**
 * The repeat check on a run's index. Its own basic instruction is in the index under the pair's id, and
 * improving an instruction is no repeat of it. A pair kept with its basic instruction unimproved needs no
 * search: that instruction entered the index through the near-duplicate filter, after being compared with
 * every entry before it; every entry after it was compared with it on entry (the filter's later rounds, this
 * check for improved finals); ROUGE-L is symmetric; so no entry other than its own nearly repeats it. A
 * resumed run's index holds the same entries, each compared the same way when the run first met it.
 */
export function repeatCheckOn(
  index: NearDuplicateIndex,
  staged?: { stage: DedupeStage; outcomes: readonly InstructionOutcome[] },
): RepeatCheck {
  // From the checks staged as the wave's instructions ended, when they cover every one searched here.
  const walk = staged?.stage.settle(searchedFinals(staged.outcomes, index), index);
  return {
    find: (id, instruction, basic) => {
      if (!searched(index, id, instruction, basic)) return undefined;
      return walk ? walk.find(id) : index.find(instruction, id);
    },
    keep: (id, instruction, basic) => {
      if (unimproved(instruction, basic)) return;
      index.add(finalInstructionId(id), instruction);
      walk?.keep(id, finalInstructionId(id));
    },
  };
}

const unimproved = (instruction: string, basic: string) => instruction.trim() === basic.trim();

/** Whether the repeat check searches the index for a kept pair's final instruction (see above). */
const searched = (index: NearDuplicateIndex, id: string, instruction: string, basic: string) =>
  !(unimproved(instruction, basic) && index.has(id));

/** The kept outcomes' final instructions the repeat check searches for. */
function searchedFinals(outcomes: readonly InstructionOutcome[], index: NearDuplicateIndex) {
  const finals: Array<{ id: string; text: string }> = [];
  for (const outcome of outcomes) {
    const last = outcome.history.at(-1);
    const { id, basicInstruction } = outcome.task;
    if (outcome.status === "kept" && last && searched(index, id, last.instruction, basicInstruction))
      finals.push({ id, text: last.instruction });
  }
  return finals;
}

/**
 * The repeat check of outcomes as they end, before their wave is collected: against the run's index when
 * it is ready (`primed`), and among themselves. The work then overlaps the wave's calls instead of
 * following them (lib/dedupe-stage.ts).
 */
export function stageRepeatCheck(
  stage: DedupeStage,
  index: NearDuplicateIndex,
  primed: boolean,
  outcomes: readonly InstructionOutcome[],
): void {
  for (const { id, text } of searchedFinals(outcomes, index)) stage.stage(id, text, primed ? index : undefined, id);
}

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

/** Which worker decided the record, when a fleet ran its filtering. */
const decider = (outcome: InstructionOutcome) => (outcome.decidedBy ? { decidedBy: outcome.decidedBy } : {});

const count = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/**
 * Turn one wave's outcomes into output records, in dispatch order so the result does not depend on
 * which call finished first. Outcomes after the one that reached `size` are counted (`pastSize`), not
 * written. With `repeats`, a pair whose final instruction nearly repeats another instruction of the
 * run is dropped as a near-duplicate before it can take a place.
 */
export function settleWave(
  outcomes: readonly InstructionOutcome[],
  options: { size: number; progress: Progress; runId: string; repeats?: RepeatCheck },
): { kept: KeptPair[]; dropped: DroppedRecord[]; progress: Progress } {
  const ordered = [...outcomes].sort((a, b) => a.task.order - b.task.order);
  const kept: KeptPair[] = [];
  const dropped: DroppedRecord[] = [];
  // Counted in place, in this call's own copies of the counts (one copy of each per wave, not per outcome).
  const start = options.progress;
  const progress: Progress = {
    ...start,
    keptPerIteration: { ...start.keptPerIteration },
    droppedByReason: { ...start.droppedByReason },
    failuresByStep: { ...start.failuresByStep },
    ...(start.keptByMetadata ? { keptByMetadata: { ...start.keptByMetadata } } : {}),
  };
  for (const outcome of ordered) {
    // Past the place that reached the size: started before that was known (a spare, a top-up wave that
    // overshot). Which ones ran depends on timing, so nothing of them is written: the files stay the same
    // whatever finished first, and the summary counts them.
    if (progress.kept >= options.size) {
      progress.pastSize = (progress.pastSize ?? 0) + 1;
      continue;
    }
    const lineage = lineageOf(outcome);
    const last = outcome.history.at(-1);
    progress.finished++;
    const repeat =
      outcome.status === "kept" && last
        ? options.repeats?.find(outcome.task.id, last.instruction, outcome.task.basicInstruction)
        : undefined;
    if (repeat) {
      dropped.push({
        id: outcome.task.id,
        kind: "instruction",
        reason: "near-duplicate",
        instruction: outcome.instruction,
        duplicateOf: repeat.of,
        similarity: Number(repeat.similarity.toFixed(4)),
        metadata: outcome.task.metadata,
        lineage,
        ...decider(outcome),
        runId: options.runId,
      });
      count(progress.droppedByReason, "near-duplicate");
      continue;
    }
    if (outcome.status === "kept" && last && outcome.source) {
      options.repeats?.keep(outcome.task.id, last.instruction, outcome.task.basicInstruction);
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
        ...decider(outcome),
        runId: options.runId,
      });
      progress.kept++;
      count(progress.keptPerIteration, String(last.iteration));
      if (outcome.source === "target") progress.reverseKept++;
      count((progress.keptByMetadata ??= {}), lineage.metadataId);
      continue;
    }
    const reason = outcome.status === "failed" ? "failure" : "max-iterations";
    dropped.push({
      id: outcome.task.id,
      kind: "instruction",
      reason,
      ...(outcome.failure ? { step: outcome.failure.step as DroppedRecord["step"], error: outcome.failure.error } : {}),
      instruction: outcome.instruction,
      metadata: outcome.task.metadata,
      lineage,
      ...decider(outcome),
      runId: options.runId,
    });
    count(progress.droppedByReason, reason);
    if (outcome.failure) count(progress.failuresByStep, outcome.failure.step);
  }
  return { kept, dropped, progress };
}
