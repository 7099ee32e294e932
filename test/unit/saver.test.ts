import { Annotation, END, MemorySaver, START, Send, StateGraph } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { RerunUnstartedTasks } from "../../runner/saver.js";

/**
 * LangGraph 1.7 with maxConcurrency: tasks started after a run is aborted are saved as finished with no
 * writes, and a resumed run skips them. RerunUnstartedTasks keeps them unfinished, so they run on resume.
 * These tests assert the workaround (every task runs exactly once across an abort and a resume), whether or
 * not LangGraph still has the bug; they pass on a fixed LangGraph too.
 */
async function fanOut(wrap: boolean, abortAt = 2): Promise<number[]> {
  const State = Annotation.Root({
    n: Annotation<number>,
    done: Annotation<number[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  });
  let abortAfterFirst: AbortController | undefined;
  const graph = new StateGraph(State)
    .addNode("start", async () => ({}))
    .addNode("work", async (input: { i: number }) => {
      await new Promise((resolve) => setTimeout(resolve, 5 * input.i));
      if (input.i === abortAt) abortAfterFirst?.abort();
      return { done: [input.i] };
    })
    .addEdge(START, "start")
    .addConditionalEdges(
      "start",
      (state) => Array.from({ length: state.n }, (_, i) => new Send("work", { i: i + 1 })),
      ["work"],
    )
    .addEdge("work", END)
    .compile({ checkpointer: wrap ? new RerunUnstartedTasks(new MemorySaver()) : new MemorySaver() });
  const config = { configurable: { thread_id: "t" }, maxConcurrency: 2 };
  abortAfterFirst = new AbortController();
  await expect(graph.invoke({ n: 6 }, { ...config, signal: abortAfterFirst.signal })).rejects.toThrow(/aborted/);
  abortAfterFirst = undefined;
  const state = await graph.invoke(null, config);
  return [...state.done].sort((a, b) => a - b);
}

describe("RerunUnstartedTasks", () => {
  it.each([2, 3, 5])(
    "every fan-out task runs exactly once across an abort (at task %i) and a resume",
    async (abortAt) => {
      expect(await fanOut(true, abortAt)).toEqual([1, 2, 3, 4, 5, 6]);
    },
  );
});
