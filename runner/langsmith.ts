/**
 * LangSmith: tracing a run (off unless LANGSMITH_TRACING=true) and uploading kept pairs as a dataset.
 *
 * Every model call is already a traced run named after its step, tagged with its role and model, and
 * carrying the metadata, instruction and iteration ids (models/call.ts). This module gives the graph
 * run an explicit tracer whose client it can flush before the process exits, and makes the root run's
 * id the run id recorded in every output line and in the summary.
 */
import { readFile } from "node:fs/promises";
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import { LangChainTracer } from "@langchain/core/tracers/tracer_langchain";
import { Client } from "langsmith";
import { registerSecret } from "../lib/redact.js";
import type { KeptPair } from "../lib/records.js";

export type Env = Record<string, string | undefined>;

const TRACING_FLAGS = ["LANGSMITH_TRACING", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING"];

const first = (env: Env, names: string[]) => names.map((name) => env[name]?.trim()).find((value) => value);

/** Tracing is on only when asked for, with the variables LangChain itself reads. */
export function tracingEnabled(env: Env): boolean {
  return TRACING_FLAGS.some((name) => env[name]?.trim().toLowerCase() === "true");
}

export function langsmithProject(env: Env): string {
  return first(env, ["LANGSMITH_PROJECT", "LANGCHAIN_PROJECT"]) ?? "default";
}

/** A LangSmith client configured from `env` (endpoint and key); the key is registered for redaction. */
export function langsmithClient(env: Env): Client {
  const apiKey = first(env, ["LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"]);
  registerSecret(apiKey);
  const apiUrl = first(env, ["LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT"]);
  return new Client({ ...(apiUrl ? { apiUrl } : {}), ...(apiKey ? { apiKey } : {}) });
}

export const hasLangSmithKey = (env: Env): boolean => Boolean(first(env, ["LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"]));

export interface Tracing {
  project: string;
  /** Handlers to put in the graph run's config. */
  callbacks: LangChainTracer[];
  /** Wait until every traced run has been sent (call before the process exits). */
  flush(): Promise<void>;
}

/** A tracer for one run, or undefined when tracing is off. */
export function startTracing(env: Env): Tracing | undefined {
  if (!tracingEnabled(env)) return undefined;
  const client = langsmithClient(env);
  const project = langsmithProject(env);
  const tracer = new LangChainTracer({ client, projectName: project });
  return {
    project,
    callbacks: [tracer],
    async flush() {
      await awaitAllCallbacks();
      await client.awaitPendingTraceBatches();
    },
  };
}

/** One kept pair as a LangSmith example: the instruction in, the kept response out, the rest as metadata. */
export function exampleOf(pair: KeptPair) {
  return {
    inputs: { instruction: pair.instruction },
    outputs: { response: pair.response },
    metadata: {
      pairId: pair.id,
      source: pair.source,
      iteration: pair.iteration,
      useCase: pair.metadata.useCase,
      skills: pair.metadata.skills,
      ...(pair.scores ? { gap: pair.scores.gap } : {}),
      runId: pair.runId,
    },
  };
}

const BATCH = 100;

/**
 * Upload the kept pairs of a finished run (the `--out` file) as examples of the LangSmith dataset
 * `name`, created when missing (an existing one gets the examples added).
 */
export async function uploadKeptPairs(
  keptPath: string,
  name: string,
  options: { env: Env; description?: string },
): Promise<{ datasetId: string; examples: number; created: boolean }> {
  const pairs = (await readFile(keptPath, "utf8"))
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as KeptPair);
  const client = langsmithClient(options.env);
  const existing = (await client.hasDataset({ datasetName: name }))
    ? await client.readDataset({ datasetName: name })
    : undefined;
  const dataset =
    existing ??
    (await client.createDataset(name, {
      description:
        options.description ?? "Instruction-response pairs kept by CodecLM's Contrastive Filtering (codeclm)",
    }));
  for (let start = 0; start < pairs.length; start += BATCH) {
    await client.createExamples(
      pairs.slice(start, start + BATCH).map((pair) => ({ ...exampleOf(pair), dataset_id: dataset.id })),
    );
  }
  return { datasetId: dataset.id, examples: pairs.length, created: !existing };
}
