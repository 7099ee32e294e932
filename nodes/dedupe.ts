import { type LangGraphRunnableConfig, Overwrite } from "@langchain/langgraph";
import { configOf } from "../graphs/runtime.js";
import { inDispatchOrder } from "../lib/plan.js";
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
  // Dedupe runs right after a decode round, and a top-up round starts only once nothing is waiting, so
  // every waiting instruction is fresh. Earlier rounds left `decoded` when they were sent to filtering;
  // they are represented by the last instructions of each metadata (`recent`) and by the seeds.
  const fresh = inDispatchOrder(state.decoded);
  if (config.dedupeThreshold >= 1 || fresh.length === 0) return {};
  const freshTexts = new Set(fresh.map((task) => task.basicInstruction));
  const earlier = Object.entries(state.recent ?? {}).flatMap(([metadataId, texts]) =>
    texts.filter((text) => !freshTexts.has(text)).map((text, index) => ({ id: `${metadataId}:earlier-${index}`, text, reference: true })),
  );
  const items: DedupeItem[] = [
    ...(state.seeds ?? []).map((seed) => ({ id: `seed:${seed.id}`, text: seed.instruction, reference: true })),
    ...earlier,
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
    decoded: new Overwrite(fresh.filter((task) => !found.has(task.id))),
    dropped,
    tally: tallyOf(dropped),
  };
}
