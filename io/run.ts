import { randomUUID } from "node:crypto";
import type { Callbacks } from "@langchain/core/callbacks/manager";
import { type CodecConfigInput, resolveConfig } from "../lib/config.js";
import type { DroppedRecord, KeptPair, Metadata, Seed } from "../lib/records.js";
import type { RunSummary } from "../lib/summary.js";
import { type CodecGraphOptions, createCodecGraph } from "../graphs/codeclm.js";
import { type OutputPaths, RunWriter } from "./output.js";

/** What a run reports as it goes: the CLI prints these, an agent tool may ignore them. */
export type RunEvent =
  | { type: "node"; node: string }
  | { type: "kept"; pairs: KeptPair[]; total: number }
  | { type: "dropped"; records: DroppedRecord[]; total: number }
  | { type: "summary"; summary: RunSummary };

export interface RunOptions {
  input: { seeds: Seed[] } | { metadata: Metadata[] };
  config: CodecConfigInput;
  paths: OutputPaths;
  graph?: Omit<CodecGraphOptions, "retainRecords">;
  /** The run's id; a UUID is also the root run id in traces (one is generated when absent). */
  runId?: string;
  /** Callback handlers for the graph run: a LangSmith tracer, or the callbacks of an agent calling this as a tool. */
  callbacks?: Callbacks;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type NodeUpdate = { kept?: KeptPair[]; dropped?: DroppedRecord[]; summary?: Record<string, unknown> } | null | undefined;

/**
 * Run the graph and stream its results to files: kept pairs and drops are written as the graph decides
 * them (records are not kept in graph state, so memory stays flat); the summary is written last.
 * On any error the `.partial` files stay behind and nothing is renamed into place.
 */
export async function runToFiles(options: RunOptions): Promise<RunSummary> {
  const graph = createCodecGraph({ ...options.graph, retainRecords: false });
  const writer = new RunWriter(options.paths);
  await writer.open();
  let summary: RunSummary | undefined;
  try {
    const runId = options.runId ?? randomUUID();
    const stream = await graph.stream(
      { ...options.input, runId },
      {
        context: resolveConfig(options.config),
        streamMode: "updates",
        signal: options.signal,
        callbacks: options.callbacks,
        ...(UUID.test(runId) ? { runId } : {}),
      },
    );
    for await (const chunk of stream as AsyncIterable<Record<string, NodeUpdate>>) {
      for (const [node, update] of Object.entries(chunk)) {
        options.onEvent?.({ type: "node", node });
        if (!update) continue;
        if (update.kept && update.kept.length > 0) {
          await writer.writeKept(update.kept);
          options.onEvent?.({ type: "kept", pairs: update.kept, total: writer.keptCount });
        }
        if (update.dropped && update.dropped.length > 0) {
          await writer.writeDropped(update.dropped);
          options.onEvent?.({ type: "dropped", records: update.dropped, total: writer.droppedCount });
        }
        if (update.summary) summary = update.summary as unknown as RunSummary;
      }
    }
  } catch (error) {
    await writer.close();
    throw error;
  }
  if (!summary) {
    await writer.close();
    throw new Error("the graph ended without a summary");
  }
  await writer.finish(summary);
  options.onEvent?.({ type: "summary", summary });
  return summary;
}
