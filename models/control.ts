/**
 * Stopping a run cleanly. `stop` (a budget reached, an endpoint that stays down, a first Ctrl-C) aborts
 * the graph at once, so LangGraph starts nothing new and keeps what finished; calls already in flight
 * are let finish and recorded, so a resumed run does not pay for them again. `abortNow` (a second
 * Ctrl-C) also cancels the calls in flight.
 */

import { setMaxListeners } from "node:events";

export type StopKind = "budget" | "endpoint-down" | "interrupt" | "failed" | "review";

export interface StopInfo {
  kind: StopKind;
  message: string;
}

/** Thrown to a call that may not start because the run is stopping; never recorded as a failure. */
export class RunStoppedError extends Error {
  constructor(readonly stop: StopInfo) {
    super(`run stopped: ${stop.message}`);
    this.name = "RunStoppedError";
  }
}

export class RunControl {
  /** Aborts the graph run (LangGraph's external signal). */
  private readonly graph = new AbortController();
  /** Aborts model requests in flight. */
  private readonly requests = new AbortController();
  private info: StopInfo | undefined;
  /** The error behind a "failed" stop. */
  error: unknown;
  private readonly listeners: Array<(info: StopInfo) => void> = [];

  constructor() {
    // Every graph task and every call in flight listens on these: thousands at a time are expected.
    setMaxListeners(0, this.graph.signal, this.requests.signal);
  }

  get graphSignal(): AbortSignal {
    return this.graph.signal;
  }

  get requestSignal(): AbortSignal {
    return this.requests.signal;
  }

  get stopped(): StopInfo | undefined {
    return this.info;
  }

  onStop(listener: (info: StopInfo) => void): void {
    this.listeners.push(listener);
  }

  /** The first stop wins; later ones are ignored. */
  stop(info: StopInfo): void {
    if (this.info) return;
    this.info = info;
    this.graph.abort(new RunStoppedError(info));
    for (const listener of this.listeners) listener(info);
  }

  /** Stop because a node failed: the run ends with this error (it stays resumable). */
  fail(error: unknown): void {
    if (this.info) return;
    this.error = error;
    this.stop({ kind: "failed", message: error instanceof Error ? error.message : String(error) });
  }

  /** Stop, and cancel the calls in flight too (they may be paid again on resume). */
  abortNow(info: StopInfo = { kind: "interrupt", message: "interrupted" }): void {
    this.stop(info);
    this.requests.abort(new RunStoppedError(this.info ?? info));
  }

  throwIfStopped(): void {
    if (this.info) throw new RunStoppedError(this.info);
  }
}
