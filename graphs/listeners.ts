import { EventEmitter, setMaxListeners } from "node:events";

/**
 * LangGraph adds an abort listener to a superstep's signal for every task of that step (a subgraph run adds
 * one more, kept until the step ends), so a wave of hundreds of instructions sets off Node's
 * MaxListenersExceededWarning at the eleventh, though nothing leaks. The signals are made inside LangGraph at
 * each invocation, taking the process default cap when they are made, so the cap is raised there, before any
 * run: to a bound far above what a wave needs, not removed, so a real leak still warns.
 */
export const ABORT_LISTENER_CAP = 10_000;

export function allowAbortListenersForWaves(): void {
  const current = EventEmitter.defaultMaxListeners;
  if (current !== 0 && current < ABORT_LISTENER_CAP) setMaxListeners(ABORT_LISTENER_CAP);
}
