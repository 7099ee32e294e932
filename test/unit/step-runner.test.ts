import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Annotation, END, START, Send, StateGraph } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import {
  CHECKED_LANGGRAPH_VERSION,
  START_BATCH,
  installStepRunner,
  stepRunnerInstalled,
} from "../../graphs/step-runner.js";
import { allowAbortListenersForWaves } from "../../graphs/listeners.js";
import { RUN_KEY } from "../../nodes/runtime.js";

installStepRunner();
allowAbortListenersForWaves();

const State = Annotation.Root({
  items: Annotation<number[]>,
  results: Annotation<number[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  handled: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});

type Work = (item: number) => Promise<number>;

/** One Send per item to `work`: a wide step, as a wave of instructions is. */
function fanOut(work: Work, errorHandler?: (error: Error) => { handled: string[] }) {
  return new StateGraph(State)
    .addNode("work", async (input: { item: number }) => ({ results: [await work(input.item)] }), {
      ...(errorHandler ? { errorHandler: (_state: unknown, { error }: { error: Error }) => errorHandler(error) } : {}),
    })
    .addConditionalEdges(START, (state) => state.items.map((item) => new Send("work", { item })))
    .addEdge("work", END)
    .compile();
}

/** A codeclm run's loops carry the run in their config; any other graph's do not. */
const codeclm = { configurable: { [RUN_KEY]: {} } };
const other = { configurable: {} };
const range = (n: number) => Array.from({ length: n }, (_, k) => k);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the step runner for codeclm's wide steps", () => {
  it("is installed over the LangGraph version it was checked against", () => {
    const dist = dirname(createRequire(import.meta.url).resolve("@langchain/langgraph"));
    const { version } = JSON.parse(readFileSync(join(dist, "..", "package.json"), "utf8")) as { version: string };
    // A new LangGraph keeps its own runner until this one is checked against it (graphs/step-runner.ts).
    expect(version).toBe(CHECKED_LANGGRAPH_VERSION);
    expect(stepRunnerInstalled()).toBe(true);
  });

  it("runs every task of a wide step once and gives LangGraph's result", async () => {
    const calls: number[] = [];
    const work: Work = async (item) => {
      calls.push(item);
      await sleep(item % 7);
      return item * 3;
    };
    const items = range(300);
    const ours = await fanOut(work).invoke({ items }, { ...codeclm, maxConcurrency: 40 });
    const ourCalls = calls.splice(0).sort((a, b) => a - b);
    const theirs = await fanOut(work).invoke({ items }, { ...other, maxConcurrency: 40 });
    expect(ourCalls).toEqual(items);
    expect([...ours.results].sort((a, b) => a - b)).toEqual(items.map((item) => item * 3));
    expect([...ours.results].sort((a, b) => a - b)).toEqual([...theirs.results].sort((a, b) => a - b));
  });

  it("holds maxConcurrency, and reaches it", async () => {
    let running = 0;
    let most = 0;
    const work: Work = async (item) => {
      most = Math.max(most, ++running);
      await sleep(2);
      running--;
      return item;
    };
    const { results } = await fanOut(work).invoke({ items: range(60) }, { ...codeclm, maxConcurrency: 7 });
    expect(results).toHaveLength(60);
    expect(most).toBe(7);
  });

  it("runs every task at maxConcurrency 1, where LangGraph 1.7.3's own runner keeps none", async () => {
    const work: Work = async (item) => item;
    const ours = await fanOut(work).invoke({ items: range(5) }, { ...codeclm, maxConcurrency: 1 });
    expect(ours.results).toEqual(range(5));
    // The upstream bug (langgraphjs#2656): this also shows that other graphs keep LangGraph's runner.
    const theirs = await fanOut(work).invoke({ items: range(5) }, { ...other, maxConcurrency: 1 });
    expect(theirs.results).toEqual([]);
  });

  it(`starts a wide step ${START_BATCH} tasks at a time, giving the event loop a turn between`, async () => {
    let turn = 0;
    let ticking = true;
    const tick = () => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const turnAtStart = new Map<number, number>();
    const work: Work = async (item) => {
      turnAtStart.set(item, turn);
      await sleep(20);
      return item;
    };
    const distinctTurns = async (config: object) => {
      turnAtStart.clear();
      await fanOut(work).invoke({ items: range(128) }, config);
      return new Set(turnAtStart.values()).size;
    };
    try {
      expect(await distinctTurns(codeclm)).toBeGreaterThanOrEqual(3);
      expect(await distinctTurns(other)).toBe(1);
    } finally {
      ticking = false;
    }
  });

  it("ends the step with a task's error, as LangGraph does", async () => {
    const work: Work = async (item) => {
      await sleep(item);
      if (item === 3) throw new Error("task 3 failed");
      return item;
    };
    await expect(fanOut(work).invoke({ items: range(6) }, codeclm)).rejects.toThrow("task 3 failed");
    await expect(fanOut(work).invoke({ items: range(6) }, other)).rejects.toThrow("task 3 failed");
  });

  it("hands a failed task to its node's error handler, as LangGraph does", async () => {
    const work: Work = async (item) => {
      if (item % 2 === 1) throw new Error(`odd ${item}`);
      return item;
    };
    const handler = (error: Error) => ({ handled: [error.message] });
    const ours = await fanOut(work, handler).invoke({ items: range(6) }, codeclm);
    const theirs = await fanOut(work, handler).invoke({ items: range(6) }, other);
    expect([...ours.results].sort()).toEqual([0, 2, 4]);
    expect([...ours.handled].sort()).toEqual([...theirs.handled].sort());
    expect(ours.handled).toHaveLength(3);
  });

  it("stops starting tasks when the run is cancelled", async () => {
    const controller = new AbortController();
    const started: number[] = [];
    const work: Work = async (item) => {
      started.push(item);
      if (started.length === 2) setTimeout(() => controller.abort(new Error("stop")), 5);
      await sleep(30);
      return item;
    };
    const run = fanOut(work).invoke({ items: range(20) }, { ...codeclm, maxConcurrency: 2, signal: controller.signal });
    await expect(run).rejects.toThrow();
    await sleep(80);
    expect(started).toEqual([0, 1]);
  });
});
