/**
 * Resuming into files that already hold part of a run. LangGraph keeps every finished task's writes with
 * its checkpoint; records reach the files a moment later, through the stream. A crash in between leaves
 * records that the checkpoints know and the files do not: they are found here and appended, so the
 * output ends with no missing record. (Records the files already hold are skipped by id by the writer.)
 */
import type { BaseCheckpointSaver, CheckpointTuple } from "@langchain/langgraph";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { DroppedRecord, KeptPair } from "../lib/records.js";
import type { RunWriter } from "./output.js";

interface Batch {
  kept: KeptPair[];
  dropped: DroppedRecord[];
}

async function checkpointBefore(
  saver: BaseCheckpointSaver,
  threadId: string,
  before?: RunnableConfig,
): Promise<CheckpointTuple | undefined> {
  const iterator = saver.list(
    { configurable: { thread_id: threadId, checkpoint_ns: "" } },
    { limit: 1, ...(before ? { before } : {}) },
  );
  const { value } = await iterator.next();
  await iterator.return?.(undefined);
  return value ?? undefined;
}

/**
 * Walk the run's checkpoints from the newest back to the last step whose records the files already
 * hold in full (records are written in the order they are decided, so everything before it is there
 * too), and append what is missing, oldest first. Returns how many records were appended.
 */
export async function reconcileFromCheckpoints(
  saver: BaseCheckpointSaver,
  threadId: string,
  writer: RunWriter,
): Promise<{ kept: number; dropped: number }> {
  const batches: Batch[] = [];
  let before: RunnableConfig | undefined;
  for (;;) {
    const tuple = await checkpointBefore(saver, threadId, before);
    if (!tuple) break;
    const batch: Batch = { kept: [], dropped: [] };
    for (const [, channel, value] of tuple.pendingWrites ?? []) {
      if (!Array.isArray(value)) continue;
      if (channel === "kept") batch.kept.push(...(value as KeptPair[]));
      if (channel === "dropped") batch.dropped.push(...(value as DroppedRecord[]));
    }
    if (batch.kept.length + batch.dropped.length > 0) {
      batches.push(batch);
      if (
        batch.kept.every((pair) => writer.hasKept(pair.id)) &&
        batch.dropped.every((record) => writer.hasDropped(record))
      )
        break;
    }
    before = tuple.config;
  }
  let kept = 0;
  let dropped = 0;
  for (const batch of batches.reverse()) {
    kept += (await writer.writeKept(batch.kept)).length;
    dropped += (await writer.writeDropped(batch.dropped)).length;
  }
  return { kept, dropped };
}
