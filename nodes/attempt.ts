import { tallyOf } from "../lib/tasks.js";
import type { DroppedRecord } from "../lib/records.js";
import type { CallContext } from "../models/call.js";
import { ModelCallError } from "../models/call.js";
import type { CodecUpdate } from "./state.js";

/** A model call's result, or its failure for good (a `ModelCallError` after the retries). */
export type Attempt<T> = { ok: true; value: T } | { ok: false; error: ModelCallError };

/**
 * Run a node's model call(s) so that a failure for good is a value the node turns into a record (a drop,
 * a failed outcome, a failed verdict), never an exception; any other error (a bug, a stopped run) propagates.
 */
export async function attempt<T>(call: () => Promise<T>): Promise<Attempt<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    if (!(error instanceof ModelCallError)) throw error;
    return { ok: false, error };
  }
}

/** The update of a node whose call failed: the drop, its tally, and what the calls spent. */
export function droppedUpdate(ctx: CallContext, record: DroppedRecord, extra: CodecUpdate = {}): CodecUpdate {
  return { ...extra, dropped: [record], tally: tallyOf([record]), usage: ctx.meter.totals };
}
