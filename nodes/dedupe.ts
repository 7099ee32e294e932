import { type LangGraphRunnableConfig, Overwrite } from "@langchain/langgraph";
import { configOf } from "../graphs/runtime.js";
import { inDispatchOrder } from "../graphs/routes.js";
import { type CodecState, type CodecUpdate, type InstructionTask, tallyOf } from "../graphs/state.js";
import { type DedupeItem, findNearDuplicates } from "../lib/dedupe.js";
import type { DroppedRecord } from "../lib/records.js";

/**
 * Diversity before cost: a freshly decoded instruction whose ROUGE-L with an earlier one (an earlier
 * instruction of the run, or a seed) is above `dedupeThreshold` is dropped as a near-duplicate before
 * any answer or judge call is spent on it. Instructions are compared in the seeded dispatch order, so
 * which of two near-twins survives does not depend on which model call finished first.
 */
export async function dedupe(
  state: CodecState,
  runnable: LangGraphRunnableConfig,
): Promise<Omit<CodecUpdate, "decoded"> & { decoded?: Overwrite<InstructionTask[]> }> {
  const config = configOf(runnable);
  const ordered = inDispatchOrder(state.decoded);
  // Everything before waveEnd has been sent to filtering already: those are references only.
  const fresh = ordered.slice(state.waveEnd);
  if (config.dedupeThreshold >= 1 || fresh.length === 0) return {};
  const items: DedupeItem[] = [
    ...(state.seeds ?? []).map((seed) => ({ id: `seed:${seed.id}`, text: seed.instruction, reference: true })),
    ...ordered.slice(0, state.waveEnd).map((task) => ({ id: task.id, text: task.basicInstruction, reference: true })),
    ...fresh.map((task) => ({ id: task.id, text: task.basicInstruction })),
  ];
  const found = new Map(findNearDuplicates(items, config.dedupeThreshold).map((match) => [match.id, match]));
  if (found.size === 0) return {};
  const runId = state.runId ?? "";
  const dropped: DroppedRecord[] = fresh
    .filter((task) => found.has(task.id))
    .map((task) => {
      const match = found.get(task.id)!;
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
    });
  return {
    decoded: new Overwrite(ordered.filter((task) => !found.has(task.id))),
    dropped,
    tally: tallyOf(dropped),
  };
}
