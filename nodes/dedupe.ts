import { type LangGraphRunnableConfig, Overwrite } from "@langchain/langgraph";
import { runOf } from "./runtime.js";
import { inDispatchOrder } from "../lib/plan.js";
import { type CodecState, type CodecUpdate } from "./state.js";
import { type InstructionTask, tallyOf } from "../lib/tasks.js";
import { type NearDuplicateIndex, type NearDuplicateMatch, addDroppedRecord, addKeptPair } from "../lib/dedupe.js";
import type { DroppedRecord } from "../lib/records.js";

/**
 * The run's near-duplicate index (part of the run, nodes/runtime.ts, outside graph state). The first
 * node of a run (or of a resumed run) to need it adds what the run already holds: the seeds, the records
 * still in state (library and Studio runs keep them; `runToFiles` adds those of the output files), the
 * wave in flight, and the instructions waiting for a wave, unless they are the fresh round about to be
 * checked.
 */
export function runIndex(
  runtime: LangGraphRunnableConfig,
  state: CodecState,
  options: { waitingAreFresh: boolean },
): NearDuplicateIndex {
  const { dedupe } = runOf(runtime);
  if (dedupe.primed) return dedupe.index;
  const { index } = dedupe;
  for (const seed of state.seeds ?? []) index.add(`seed:${seed.id}`, seed.instruction);
  for (const pair of state.kept ?? []) addKeptPair(index, pair);
  for (const record of state.dropped ?? []) addDroppedRecord(index, record);
  for (const task of state.wave ?? []) index.add(task.id, task.basicInstruction);
  if (!options.waitingAreFresh) for (const task of state.decoded ?? []) index.add(task.id, task.basicInstruction);
  dedupe.primed = true;
  return index;
}

function nearDuplicateRecord(task: InstructionTask, match: NearDuplicateMatch, runId: string): DroppedRecord {
  return {
    id: task.id,
    kind: "instruction",
    reason: "near-duplicate",
    instruction: task.basicInstruction,
    duplicateOf: match.of,
    similarity: Number(match.similarity.toFixed(4)),
    metadata: task.metadata,
    lineage: {
      metadataId: task.metadataId,
      metadataOrigin: task.metadataOrigin,
      seedIds: task.seedIds,
      basicInstruction: task.basicInstruction,
      actions: [],
      iterations: [],
    },
    runId,
  };
}

/**
 * Diversity before cost: a freshly decoded instruction whose ROUGE-L with any earlier instruction of the
 * run (every round, every metadata, every kept pair's final instruction) or with a seed is above
 * `dedupeThreshold` is dropped as a near-duplicate before any answer or judge call is spent on it.
 * Instructions are compared in the seeded dispatch order, so which of two near-twins survives does not
 * depend on which model call finished first.
 */
export async function dedupe(
  state: CodecState,
  runtime: LangGraphRunnableConfig,
): Promise<Omit<CodecUpdate, "decoded"> & { decoded?: Overwrite<InstructionTask[]> }> {
  const { config } = runOf(runtime);
  // Dedupe runs right after a decode round, and a top-up round starts only once nothing is waiting, so
  // every waiting instruction is fresh.
  const fresh = inDispatchOrder(state.decoded);
  if (config.dedupeThreshold >= 1 || fresh.length === 0) return {};
  const index = runIndex(runtime, state, { waitingAreFresh: true });
  const found = new Map<string, NearDuplicateMatch>();
  for (const task of fresh) {
    const match = index.addUnlessDuplicate(task.id, task.basicInstruction);
    if (match) found.set(task.id, match);
  }
  if (found.size === 0) return {};
  const runId = state.runId ?? "";
  const dropped = fresh
    .filter((task) => found.has(task.id))
    .map((task) => nearDuplicateRecord(task, found.get(task.id)!, runId));
  return {
    decoded: new Overwrite(fresh.filter((task) => !found.has(task.id))),
    dropped,
    tally: tallyOf(dropped),
  };
}
