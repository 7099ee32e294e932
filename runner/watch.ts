/**
 * While the graph runs: a progress event every so often, the caller's abort signal turned into a clean
 * stop, and a `stopping` event when the run starts to stop (budget, outage, Ctrl-C).
 */
import type { RunControl } from "../models/control.js";
import type { EmitEvent } from "./events.js";
import type { ProgressSnapshot } from "./progress.js";

export interface Watch {
  control: RunControl;
  /** Aborting it stops the run cleanly (like `control.stop`). */
  signal?: AbortSignal;
  /** Absent: nobody listens, so no timer runs. */
  emit?: EmitEvent;
  intervalMs: number;
  snapshot: () => ProgressSnapshot;
  inFlight: () => number;
}

/** Start watching; returns what ends it (the stop listener stays: it fires at most once, for this run). */
export function watchRun(watch: Watch): () => void {
  const { control, signal, emit } = watch;
  const timer = emit
    ? setInterval(() => emit({ type: "progress", progress: watch.snapshot() }), watch.intervalMs)
    : undefined;
  timer?.unref();
  const onAbort = () => control.stop({ kind: "interrupt", message: "interrupted" });
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  control.onStop((stop) => emit?.({ type: "stopping", stop, inFlight: watch.inFlight() }));
  return () => {
    if (timer) clearInterval(timer);
    signal?.removeEventListener("abort", onAbort);
  };
}
