import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { tool } from "@langchain/core/tools";
import { z } from "zod";
import type { GraphDeps } from "../nodes/runtime.js";
import { type OutputPaths, outputPathsFor } from "../runner/output.js";
import { runToFiles } from "../runner/run.js";
import type { CodecConfigInput } from "../lib/config.js";
import type { RunSummary } from "../lib/summary.js";

export interface CodecToolOptions {
  /** Directory the data goes to: one `<runId>.jsonl` (plus its dropped and summary files) per call. */
  outputDir: string;
  /** Settings for every call (models, theta, ...); the agent chooses only the examples and the count. */
  config?: CodecConfigInput;
  /** Ready-made chat models for the roles, instead of `provider:model` settings. */
  graph?: GraphDeps;
  /** Most pairs one call may ask for (a guard on cost). Default 200. */
  maxCount?: number;
  name?: string;
  description?: string;
}

/** What the tool hands back besides its text: the summary and where the files are. */
export interface CodecToolArtifact {
  runId: string;
  status: RunSummary["status"];
  kept: number;
  requested: number;
  stopReason: string;
  files: OutputPaths;
}

export const CODEC_TOOL_NAME = "generate_training_examples";

/** The tool's reply: a sentence a chat model can relay, then the facts as JSON. */
export function describeResult(artifact: CodecToolArtifact): string {
  const head =
    artifact.status === "complete"
      ? `Generated ${artifact.kept} tailored training examples.`
      : `Generated ${artifact.kept} of the ${artifact.requested} requested training examples (${artifact.stopReason}).`;
  return `${head} Pairs: ${artifact.files.kept}; dropped: ${artifact.files.dropped}; summary: ${artifact.files.summary}.\n${JSON.stringify(artifact)}`;
}

/**
 * CodecLM as a tool a chat agent can call: "generate N tailored training examples like these". The
 * examples become the seeds; the run streams its data to files under `outputDir`; the tool returns a
 * summary and where the data went (content for the model, the same as a structured artifact).
 * Tracing nests under the agent's run: the tool's callbacks are handed to the graph.
 */
export function createCodecTool(options: CodecToolOptions) {
  const maxCount = options.maxCount ?? 200;
  const schema = z.object({
    examples: z
      .array(z.string().min(1))
      .min(1)
      .describe("Example instructions (user requests) showing the kind of data wanted; they are the seeds"),
    count: z
      .number()
      .int()
      .min(1)
      .max(maxCount)
      .describe(`How many instruction-response pairs to generate (at most ${maxCount})`),
  });
  return tool(
    async ({ examples, count }, config): Promise<[string, CodecToolArtifact]> => {
      const runId = randomUUID();
      const dir = resolve(options.outputDir);
      await mkdir(dir, { recursive: true });
      const files = outputPathsFor(join(dir, `${runId}.jsonl`));
      const summary = await runToFiles({
        input: { seeds: examples.map((instruction, index) => ({ id: `example-${index + 1}`, instruction })) },
        config: { ...options.config, size: count },
        paths: files,
        runId,
        graph: options.graph,
        callbacks: config?.callbacks,
        signal: config?.signal,
      });
      const artifact: CodecToolArtifact = {
        runId: summary.runId,
        status: summary.status,
        kept: summary.kept,
        requested: summary.requested,
        stopReason: summary.stopReason,
        files,
      };
      return [describeResult(artifact), artifact];
    },
    {
      name: options.name ?? CODEC_TOOL_NAME,
      description:
        options.description ??
        "Generate N instruction-response training examples tailored to the given example instructions (CodecLM: " +
          "encode them into use cases and skills, write new instructions, keep those where a strong model's answer " +
          "clearly beats the target model's). Returns how many were kept and the file they were written to.",
      schema,
      responseFormat: "content_and_artifact",
    },
  );
}
