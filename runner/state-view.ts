/**
 * What the runner knows of the graph's state while the graph streams its updates: the channels that
 * progress and a stopped run's summary read. They are the graph's own channels (built from its state
 * schema, with its reducers), fed with the updates the stream carries, so the runner keeps no copy of
 * the state's shape or of how updates combine.
 */
import type { BaseChannel } from "@langchain/langgraph";
import { schemaMetaRegistry, type UpdateType } from "@langchain/langgraph/zod";
import type { z } from "zod";
import type { RunSummary } from "../lib/summary.js";
import { codecStateSchema } from "../nodes/state.js";
import { RunSetupError } from "./resume.js";
import type { CodecGraph } from "./services.js";

/** The channels the runner reads: the progress figures, and what a summary reads of state (`RunFacts`). */
const VIEWED = {
  runId: true,
  startedAt: true,
  seedSelection: true,
  encoded: true,
  pool: true,
  poolStats: true,
  round: true,
  decodedCount: true,
  progress: true,
  tally: true,
  usage: true,
  waveStart: true,
  waveEnd: true,
} as const;
const VIEWED_KEYS = Object.keys(VIEWED) as ViewKey[];

const streamingState = codecStateSchema("streaming");
const viewSchema = streamingState.pick(VIEWED);
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- a schema kept for its type (NodeUpdate)
const routedSchema = streamingState.pick({ ...VIEWED, kept: true, dropped: true, summary: true });
type ViewKey = keyof typeof VIEWED;
export type View = z.infer<typeof viewSchema>;
/** A node's update, as far as the view reads it (the stream's update type of any node is one). */
export type ViewUpdate = UpdateType<typeof viewSchema>;
/** A node's update as the runner routes it: records for the files, the summary, and what the view reads. */
export type NodeUpdate = UpdateType<typeof routedSchema>;
type Channels = { [K in ViewKey]: BaseChannel<View[K], ViewUpdate[K]> };

function feed<K extends ViewKey>(channels: Channels, key: K, value: ViewUpdate[K]): void {
  channels[key].update([value]);
}

function restore<K extends ViewKey>(channels: Channels, key: K, value: View[K]): void {
  channels[key] = channels[key].fromCheckpoint(value);
}

export class StateView {
  private readonly channels: Channels = schemaMetaRegistry.getChannelsForSchema(viewSchema);

  /** The state a checkpoint holds, checked against the state schema (it comes from disk); undefined when it is not this graph's. */
  static fromValues(values: unknown): StateView | undefined {
    const parsed = viewSchema.partial().safeParse(values);
    if (!parsed.success) return undefined;
    const view = new StateView();
    for (const key of VIEWED_KEYS) if (parsed.data[key] !== undefined) restore(view.channels, key, parsed.data[key]);
    return view;
  }

  /** A run that starts from its input, which gives the graph its run id before any step runs. */
  static starting(runId: string): StateView {
    const view = new StateView();
    view.apply({ runId });
    return view;
  }

  apply(update: ViewUpdate): void {
    for (const key of VIEWED_KEYS) if (update[key] !== undefined) feed(this.channels, key, update[key]);
  }

  get<K extends ViewKey>(key: K): View[K] | undefined {
    const channel = this.channels[key];
    return channel.isAvailable() ? channel.get() : undefined;
  }

  /** The viewed channels' values (what a summary reads of the state, and the wave's bounds). */
  values(): View {
    const read = <K extends ViewKey>(key: K): View[K] => this.channels[key].get();
    return {
      runId: this.get("runId"),
      startedAt: this.get("startedAt"),
      seedSelection: this.get("seedSelection"),
      encoded: read("encoded"),
      pool: read("pool"),
      poolStats: read("poolStats"),
      round: read("round"),
      decodedCount: read("decodedCount"),
      progress: read("progress"),
      tally: read("tally"),
      usage: read("usage"),
      waveStart: read("waveStart"),
      waveEnd: read("waveEnd"),
    };
  }
}

/** The graph's `summary` channel holds what finalize built with `buildSummary` (typed there as a plain record). */
export function isRunSummary(value: unknown): value is RunSummary {
  if (typeof value !== "object" || value === null || !("runId" in value) || !("status" in value)) return false;
  return (
    typeof value.runId === "string" &&
    (value.status === "complete" || value.status === "incomplete" || value.status === "stopped")
  );
}

export interface ResumePoint {
  /** The graph continues from a checkpoint of this run (else it starts from the input). */
  fromCheckpoint: boolean;
  view: StateView;
  /** Set when the graph had ended but the files were not finished (a crash in between). */
  summary?: RunSummary;
  /** The interrupts the graph waits at (a review) for an answer. */
  waiting?: unknown[];
}

/** Where a resumed run's graph picks up: its last checkpoint, if it has one with state. */
export async function resumePoint(graph: CodecGraph, runId: string, resumed: boolean): Promise<ResumePoint> {
  const existing = resumed ? await graph.getState({ configurable: { thread_id: runId } }) : undefined;
  const values: unknown = existing?.values;
  const hasState = typeof values === "object" && values !== null && Object.keys(values).length > 0;
  if (!existing || existing.config?.configurable?.checkpoint_id === undefined || !hasState)
    return { fromCheckpoint: false, view: StateView.starting(runId) };
  const view = StateView.fromValues(values);
  if (!view)
    throw new RunSetupError(
      `the last checkpoint of run ${runId} does not hold this graph's state (written by another version of codeclm?); start a new run (--force)`,
    );
  const summary =
    existing.next.length === 0 && "summary" in values && isRunSummary(values.summary) ? values.summary : undefined;
  const waiting = existing.tasks.flatMap((task) => task.interrupts);
  return { fromCheckpoint: true, view, ...(summary ? { summary } : {}), ...(waiting.length > 0 ? { waiting } : {}) };
}
