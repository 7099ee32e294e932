/**
 * CodecLM as one node of a larger graph: a planning step writes the seeds, CodecLM generates the data,
 * a last step reads the kept pairs and the summary from the shared state.
 *
 *   OPENAI_API_KEY=sk-... npx tsx examples/subgraph.ts
 */
import { END, START, StateGraph } from "@langchain/langgraph";
import { registry } from "@langchain/langgraph/zod";
import { z } from "zod";
import { type KeptPair, KeptPairSchema, SeedSchema, createCodecGraph, resolveConfig } from "../index.js";

const Pipeline = z.object({
  topic: z.string(),
  // Keys shared with the CodecLM graph: it reads `seeds`, and writes `kept` and `summary`.
  seeds: z.array(SeedSchema).optional(),
  kept: z
    .array(KeptPairSchema)
    .register(registry, { reducer: { fn: (a: KeptPair[], b: KeptPair[]) => a.concat(b) }, default: () => [] }),
  summary: z.record(z.string(), z.unknown()).optional(),
  report: z.string().optional(),
});

const pipeline = new StateGraph(Pipeline)
  .addNode("plan", (state) => ({
    seeds: [`Explain ${state.topic} to a beginner.`, `Write a quiz with three questions on ${state.topic}.`].map(
      (instruction, index) => ({
        id: `plan-${index}`,
        instruction,
      }),
    ),
  }))
  .addNode("codeclm", createCodecGraph())
  .addNode("describe", (state) => ({ report: `${state.kept.length} pairs (${String(state.summary?.stopReason)})` }))
  .addEdge(START, "plan")
  .addEdge("plan", "codeclm")
  .addEdge("codeclm", "describe")
  .addEdge("describe", END)
  .compile();

const state = await pipeline.invoke(
  { topic: "photosynthesis" },
  {
    // CodecLM's settings travel as the run's context; its many supersteps need a high recursion limit.
    context: resolveConfig({
      size: 10,
      poolSize: 10,
      strong: { model: "openai:gpt-4o" },
      target: { model: "openai:gpt-4o-mini" },
    }),
    recursionLimit: 10_000,
  },
);
console.log(state.report);
