/**
 * Embedding: the CodecLM graph as a node of another graph, and as a tool a chat agent calls
 * ("generate N tailored training examples like these"), driven by a fake tool-calling chat model.
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";
import { END, START, StateGraph } from "@langchain/langgraph";
import { createReactAgent } from "@langchain/langgraph/prebuilt";
import { registry } from "@langchain/langgraph/zod";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { CODEC_TOOL_NAME, type CodecToolArtifact, createCodecTool } from "../../agent/tool.js";
import { createCodecGraph } from "../../graphs/codeclm.js";
import { resolveConfig } from "../../lib/config.js";
import { type KeptPair, KeptPairSchema, SeedSchema } from "../../lib/records.js";
import { scriptedModels } from "../support/scripted-model.js";

const examples = ["Write a limerick about a cat who learns to code.", "Explain compound interest to a teenager."];

describe("CodecLM inside other graphs", () => {
  it("runs as a subgraph node: the parent hands it seeds and reads back kept pairs and the summary", async () => {
    const Parent = z.object({
      request: z.string(),
      seeds: z.array(SeedSchema).optional(),
      kept: z
        .array(KeptPairSchema)
        .register(registry, { reducer: { fn: (a: KeptPair[], b: KeptPair[]) => a.concat(b) }, default: () => [] }),
      summary: z.record(z.string(), z.unknown()).optional(),
      report: z.string().optional(),
    });
    const parent = new StateGraph(Parent)
      .addNode("plan", (state) => ({
        seeds: state.request.split("\n").map((instruction, index) => ({ id: `r${index}`, instruction })),
      }))
      .addNode("codeclm", createCodecGraph({ models: scriptedModels() }))
      .addNode("describe", (state) => ({ report: `${state.kept.length} pairs, ${String(state.summary?.status)}` }))
      .addEdge(START, "plan")
      .addEdge("plan", "codeclm")
      .addEdge("codeclm", "describe")
      .addEdge("describe", END)
      .compile();
    const state = await parent.invoke(
      { request: examples.join("\n") },
      { context: resolveConfig({ size: 5, poolSize: 4, seed: 2 }), recursionLimit: 500 },
    );
    expect(state.kept).toHaveLength(5);
    expect(state.report).toBe("5 pairs, complete");
  });

  it("is a tool a chat agent calls; the tool answers with a summary and where the data went", async () => {
    const outputDir = await mkdtemp(join(tmpdir(), "codeclm-agent-"));
    const codecTool = createCodecTool({
      outputDir,
      graph: { models: scriptedModels() },
      config: { poolSize: 4, seed: 3 },
      maxCount: 50,
    });
    const llm = fakeModel()
      .respondWithTools([{ name: CODEC_TOOL_NAME, args: { examples, count: 4 }, id: "call-1" }])
      .respond((messages) => {
        const result = messages.at(-1) as ToolMessage;
        return new AIMessage(`Done. ${String(result.content).split("\n")[0]}`);
      });
    const agent = createReactAgent({ llm, tools: [codecTool] });
    const state = await agent.invoke({ messages: [new HumanMessage("Make 4 training examples like my two prompts.")] });

    const toolMessage = state.messages.find((message) => message instanceof ToolMessage) as ToolMessage;
    expect(toolMessage.content).toContain("Generated 4 tailored training examples.");
    const artifact = toolMessage.artifact as CodecToolArtifact;
    expect(artifact).toMatchObject({ status: "complete", kept: 4, requested: 4 });
    expect(artifact.files.kept.startsWith(outputDir)).toBe(true);
    const lines = (await readFile(artifact.files.kept, "utf8"))
      .trim()
      .split("\n")
      .map((line) => KeptPairSchema.parse(JSON.parse(line)));
    expect(lines).toHaveLength(4);
    expect(lines.every((pair) => pair.runId === artifact.runId)).toBe(true);
    expect(JSON.parse(await readFile(artifact.files.summary, "utf8"))).toMatchObject({
      runId: artifact.runId,
      kept: 4,
    });
    // The agent saw the tool's answer and relayed it.
    expect(String(state.messages.at(-1)!.content)).toContain("Generated 4 tailored training examples.");
    expect(llm.callCount).toBe(2);
  });

  it("rejects a request beyond its cost guard before running anything", async () => {
    const codecTool = createCodecTool({ outputDir: tmpdir(), graph: { models: scriptedModels() }, maxCount: 10 });
    await expect(codecTool.invoke({ examples, count: 11 })).rejects.toThrow(/did not match expected schema/);
  });
});
