import type { RunnableConfig } from "@langchain/core/runnables";
import {
  BaseCheckpointSaver,
  type Checkpoint,
  type CheckpointMetadata,
  type CheckpointTuple,
} from "@langchain/langgraph";

type CheckpointListOptions = Parameters<BaseCheckpointSaver["list"]>[1];
type ChannelVersions = Parameters<BaseCheckpointSaver["put"]>[3];
type PendingWrite = Parameters<BaseCheckpointSaver["putWrites"]>[1][number];

const NO_WRITES = "__no_writes__";

/**
 * A checkpointer that never records "finished with no writes" for a task.
 *
 * LangGraph 1.7 with `maxConcurrency`: once a run is aborted (a stop, a failed task), every task it
 * starts afterwards sees the aborted signal, returns without running, and is saved as finished with no
 * writes; a resumed run would then skip it for good. Every node of this graph writes something when it
 * really runs (a state update, or the branch to its next node), so a lone `__no_writes__` only ever marks
 * a task that never ran: it is not saved, and the task runs on resume. (A task that truly wrote nothing
 * would merely run again, its calls replayed from the journal.) Everything else goes to the wrapped saver.
 */
export class RerunUnstartedTasks extends BaseCheckpointSaver {
  constructor(readonly inner: BaseCheckpointSaver) {
    super(inner.serde);
  }

  getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    return this.inner.getTuple(config);
  }

  list(config: RunnableConfig, options?: CheckpointListOptions): AsyncGenerator<CheckpointTuple> {
    return this.inner.list(config, options);
  }

  put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    return this.inner.put(config, checkpoint, metadata, newVersions);
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string): Promise<void> {
    if (writes.length > 0 && writes.every(([channel]) => channel === NO_WRITES)) return;
    return this.inner.putWrites(config, writes, taskId);
  }

  deleteThread(threadId: string): Promise<void> {
    return this.inner.deleteThread(threadId);
  }

  override getNextVersion(current: number | undefined): number {
    return this.inner.getNextVersion(current);
  }

  override getDeltaChannelHistory(options: Parameters<BaseCheckpointSaver["getDeltaChannelHistory"]>[0]) {
    return this.inner.getDeltaChannelHistory(options);
  }
}
