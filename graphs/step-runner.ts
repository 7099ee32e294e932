/**
 * LangGraph's superstep runner, made cheap for wide steps: a wave of thousands of instruction subgraphs.
 *
 * `PregelRunner._executeTasksWithRetry` (LangGraph 1.7.3) waits for its next finished task with
 * `Promise.race` over every task still running, once per finished task. A wave at concurrency 128 runs 512
 * subgraphs at a time, so each finish builds and races an array of 512 promises, and every promise keeps a
 * reaction from every race it was in until it settles: about 0.35 ms of main-thread CPU per finished
 * subgraph, 3% of the main thread in the run's middle and more in its drain (profiled; README "Start-up and
 * CPU per call"). It also starts all of a step's tasks in one synchronous loop, so 512 subgraphs do their
 * set-up in lockstep and the wave's first model call waits for all of it (about 0.3 s); and at
 * `maxConcurrency: 1` it ends the step after the first task (langgraphjs#2656).
 *
 * Here, for the loops of a codeclm run only (the run key is in their config; any other graph in the process
 * keeps LangGraph's own runner): each task reports its own end to a queue, a wide step starts its tasks a
 * batch at a time, letting the event loop send the first batches' calls before the next set up, and the
 * run's and the step's abort signals get O(1) listeners (lib/fan-out-signal.ts). What a task runs, with
 * which retry policy and signal, how errors, error-handler nodes and a cancellation before the first finish
 * are handled, is as LangGraph does it. Not supported: LangGraph's functional-API `task()` calls from
 * inside these nodes (codeclm's nodes make none). Installed only over the LangGraph version it was checked
 * against; another version keeps its own runner.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { fanOutAbortListeners } from "../lib/fan-out-signal.js";
import { RUN_KEY } from "../nodes/runtime.js";

/** The LangGraph version whose runner this replaces (its `dist/pregel/runner.js`). */
export const CHECKED_LANGGRAPH_VERSION = "1.7.3";
/** Tasks started before the event loop gets a turn, when a step starts many. */
export const START_BATCH = 32;
const CONFIG_KEY_CALL = "__pregel_call";

interface PregelTask {
  id: string;
  name: unknown;
}

interface Settled {
  task: PregelTask;
  error?: unknown;
  signalAborted?: boolean;
}

interface StepSignals {
  externalAbortSignal?: AbortSignal;
  timeoutAbortSignal?: AbortSignal;
  composedAbortSignal?: AbortSignal;
}

interface StepOptions {
  retryPolicy?: unknown;
  maxConcurrency?: number;
  signals?: StepSignals;
}

interface PregelRunnerLike {
  loop: {
    config?: { configurable?: Record<string, unknown> };
    isErrorHandlerNode(name: string): boolean;
    getErrorHandlerNode(name: string): unknown;
    scheduleErrorHandler(task: PregelTask, error: unknown): PregelTask | undefined;
  };
}

type ExecuteTasks = (this: PregelRunnerLike, tasks: PregelTask[], options?: StepOptions) => AsyncGenerator<Settled>;

interface Internals {
  runner: { PregelRunner: { prototype: { _executeTasksWithRetry: ExecuteTasks } } };
  runWithRetry: (
    task: PregelTask,
    retryPolicy: unknown,
    configurable: Record<string, unknown> | undefined,
    signal: AbortSignal | undefined,
  ) => Promise<Settled>;
  combineAbortSignals: (...signals: Array<AbortSignal | undefined>) => {
    signal?: AbortSignal;
    dispose?: () => void;
  };
  isGraphBubbleUp: (error: unknown) => boolean;
}

/**
 * LangGraph's own modules (not in its exports map), by file: the same instances its entry point uses. None
 * when LangGraph is another version, or its files are not where 1.7.3 keeps them: the run then keeps
 * LangGraph's runner.
 */
async function loadInternals(): Promise<Internals | undefined> {
  try {
    const dist = dirname(createRequire(import.meta.url).resolve("@langchain/langgraph"));
    const manifest = JSON.parse(readFileSync(join(dist, "..", "package.json"), "utf8")) as { version: string };
    if (manifest.version !== CHECKED_LANGGRAPH_VERSION) return undefined;
    const load = (file: string) => import(pathToFileURL(join(dist, file)).href) as Promise<Record<string, unknown>>;
    const [runner, retry, utils, errors] = await Promise.all([
      load("pregel/runner.js"),
      load("pregel/retry.js"),
      load("pregel/utils/index.js"),
      load("errors.js"),
    ]);
    const found = {
      runner: runner as unknown as Internals["runner"],
      runWithRetry: retry._runWithRetry as Internals["runWithRetry"],
      combineAbortSignals: utils.combineAbortSignals as Internals["combineAbortSignals"],
      isGraphBubbleUp: errors.isGraphBubbleUp as Internals["isGraphBubbleUp"],
    };
    const complete =
      typeof found.runner.PregelRunner?.prototype._executeTasksWithRetry === "function" &&
      [found.runWithRetry, found.combineAbortSignals, found.isGraphBubbleUp].every(
        (part) => typeof part === "function",
      );
    return complete ? found : undefined;
  } catch {
    return undefined;
  }
}

const internals = await loadInternals();
let original: ExecuteTasks | undefined;

/** Whether this process's LangGraph runs codeclm's steps with the runner above. */
export const stepRunnerInstalled = (): boolean => original !== undefined;

/** Install once per process (idempotent); a LangGraph version other than the checked one is left alone. */
export function installStepRunner(): void {
  if (original || !internals) return;
  const langgraph = internals;
  const prototype = langgraph.runner.PregelRunner.prototype;
  const ownRunner = prototype._executeTasksWithRetry;
  original = ownRunner;
  prototype._executeTasksWithRetry = function (this: PregelRunnerLike, tasks, options) {
    return this.loop.config?.configurable?.[RUN_KEY] === undefined
      ? ownRunner.call(this, tasks, options)
      : executeTasks(langgraph, this, tasks, options);
  };
}

/** A queue of finished tasks that a waiting consumer is woken by. */
class Finished {
  private readonly items: Settled[] = [];
  private wake: (() => void) | undefined;

  push(settled: Settled): void {
    this.items.push(settled);
    this.notify();
  }

  notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  next(): Settled | undefined {
    return this.items.shift();
  }

  wait(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function* executeTasks(
  langgraph: Internals,
  runner: PregelRunnerLike,
  tasks: PregelTask[],
  options: StepOptions = {},
) {
  const { retryPolicy, maxConcurrency, signals } = options;
  const composed = signals?.composedAbortSignal;
  if (composed?.aborted) throw new Error("Abort");
  // LangGraph's own signals for the run and for this step (never a caller's): every task of the step, and
  // every step of every subgraph below it, adds a listener to them and removes it when done.
  for (const signal of [signals?.externalAbortSignal, composed]) if (signal) fanOutAbortListeners(signal);
  const finished = new Finished();
  let running = 0;
  const start = (task: PregelTask) => {
    running++;
    void langgraph
      .runWithRetry(task, retryPolicy, { [CONFIG_KEY_CALL]: undefined }, composed)
      .catch((error: unknown) => ({ task, error, signalAborted: composed?.aborted }))
      .then((settled) => finished.push(settled));
  };
  // As LangGraph's runner: a cancellation or step timeout before the first task finishes ends the step with
  // "Abort"; after that, the tasks see it through their own signal and end with it.
  const cancel = langgraph.combineAbortSignals(signals?.externalAbortSignal, signals?.timeoutAbortSignal);
  let cancelled = false;
  const onCancel = () => {
    cancelled = true;
    finished.notify();
  };
  let listening = cancel.signal !== undefined;
  cancel.signal?.addEventListener("abort", onCancel, { once: true });
  const stopListening = () => {
    if (!listening) return;
    listening = false;
    cancel.signal?.removeEventListener("abort", onCancel);
    cancel.dispose?.();
  };
  const limit = maxConcurrency ?? tasks.length;
  let started = 0;
  try {
    while (started < tasks.length || running > 0) {
      for (let batch = 0; running < limit && started < tasks.length; started++) {
        if (batch++ === START_BATCH) {
          batch = 1;
          await nextTurn();
          if (listening && cancelled) throw new Error("Abort");
        }
        start(tasks[started]!);
      }
      const settled = finished.next();
      if (!settled) {
        if (listening && cancelled) throw new Error("Abort");
        await finished.wait();
        continue;
      }
      const { task, error } = settled;
      const name = String(task.name);
      const { loop } = runner;
      if (
        error !== undefined &&
        !langgraph.isGraphBubbleUp(error) &&
        !loop.isErrorHandlerNode(name) &&
        loop.getErrorHandlerNode(name) !== undefined
      ) {
        const handler = loop.scheduleErrorHandler(task, error);
        if (handler !== undefined) start(handler);
      }
      yield settled;
      stopListening();
      running--;
    }
  } finally {
    stopListening();
  }
}
