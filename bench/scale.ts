/**
 * Scale measurements of the whole pipeline (graph, scheduler, journal, checkpoints, output files)
 * through the real ChatOpenAI client against the project's OpenAI-compatible test server.
 */
import { fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ChatOpenAI } from "@langchain/openai";
import { z } from "zod";
import { outputPathsFor } from "../runner/output.js";
import { runToFiles } from "../runner/run.js";
import type { CodecConfigInput } from "../lib/config.js";
import type { Seed } from "../lib/records.js";
import type { RunSummary } from "../lib/summary.js";
import { judgePromptValues } from "../prompts/contrastive-judge.js";
import { renderPrompt } from "../prompts/index.js";
import type { Endpoint } from "./endpoint.js";
import { LIKE_CLI_NODE_ARGS } from "./like-cli.js";

export const BENCH_KEY = "sk-bench-not-a-real-key-0000";

export function benchSeeds(count: number): Seed[] {
  const topics = [
    "poetry",
    "pandas",
    "interest rates",
    "the French Revolution",
    "binary search",
    "bread",
    "chess openings",
    "photosynthesis",
  ];
  return Array.from({ length: count }, (_, i) => ({
    id: `b${i}`,
    instruction: `Benchmark seed ${i}: explain ${topics[i % topics.length]} to reader ${i}`,
  }));
}

export interface RunShape {
  size: number;
  concurrency: number;
  pool: number;
  seeds: number;
  checkpoint: "sqlite" | "none";
}

export interface CallAccount {
  /** Answered calls per kept pair. */
  perKept: number;
  /** The method's floor: every instruction kept at its first pass (4 calls), plus the setup calls spread over the pairs. */
  minimumPerKept: number;
  setup: number;
  /**
   * Filtering calls spent on instructions that were kept, dropped at the iteration cap (inherent to the
   * method), or filtered with no place in the output (surplus: started before the size was known to be
   * reached, so scheduling waste).
   */
  onKept: number;
  onMaxIterations: number;
  onSurplus: number;
  /** Longest chain of dependent calls: encode, pool check, decode, then the longest instruction (3 per pass, minus one). */
  chain: number;
}

export interface ScaleResult extends RunShape {
  wallMs: number;
  calls: number;
  kept: number;
  status: string;
  account: CallAccount;
}

const SETUP_STEPS = ["encode", "pool-check", "rubric-generate", "decode"];
const instructionCalls = (iterations: number) => 4 * iterations + Math.max(0, iterations - 1);

async function readRecords(path: string): Promise<Array<Record<string, any>>> {
  const { readFile } = await import("node:fs/promises");
  return (await readFile(path, "utf8"))
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, any>);
}

export async function accountCalls(summary: RunSummary, keptPath: string, droppedPath: string): Promise<CallAccount> {
  const kept = await readRecords(keptPath);
  const dropped = await readRecords(droppedPath);
  const setup = SETUP_STEPS.reduce((sum, step) => sum + (summary.calls.byStep[step]?.calls ?? 0), 0);
  const onKept = kept.reduce((sum, pair) => sum + instructionCalls(pair.lineage.iterations.length), 0);
  const of = (reason: string) =>
    dropped
      .filter((record) => record.kind === "instruction" && record.reason === reason)
      .reduce((sum, record) => sum + instructionCalls(record.lineage?.iterations?.length ?? 0), 0);
  const longest = Math.max(
    0,
    ...[...kept, ...dropped.filter((record) => record.kind === "instruction")].map(
      (record) => record.lineage?.iterations?.length ?? 0,
    ),
  );
  const calls = summary.spend?.calls ?? summary.calls.total.calls;
  const onRecords = [...kept, ...dropped.filter((record) => record.kind === "instruction")].reduce(
    (sum, record) => sum + instructionCalls(record.lineage?.iterations?.length ?? 0),
    0,
  );
  return {
    perKept: calls / Math.max(1, summary.kept),
    minimumPerKept: 4 + setup / Math.max(1, summary.kept),
    setup,
    onKept,
    onMaxIterations: of("max-iterations"),
    // Nothing is written of an instruction past the one that reached the size, or stopped part-way: what
    // the run paid for it is what the written records and the setup do not account for.
    onSurplus: Math.max(0, calls - setup - onRecords),
    chain: 3 + instructionCalls(longest) - 2 * longest, // per pass: answers (parallel), judges (parallel), action-apply between passes
  };
}

export function runConfig(shape: RunShape): CodecConfigInput {
  return {
    size: shape.size,
    poolSize: shape.pool,
    concurrency: shape.concurrency,
    seed: 7,
    strong: { model: "openai:strong-model" },
    target: { model: "openai:target-model" },
  };
}

/** One full run through HTTP against the endpoint, in this process; wall time from start to summary. */
export async function scaleRun(endpoint: Endpoint, shape: RunShape): Promise<ScaleResult> {
  const dir = await mkdtemp(join(tmpdir(), "codeclm-bench-"));
  const paths = outputPathsFor(join(dir, "out.jsonl"));
  try {
    await endpoint.reset();
    const started = performance.now();
    const summary = await runToFiles({
      input: { seeds: benchSeeds(shape.seeds) },
      config: runConfig(shape),
      paths,
      graph: { env: { OPENAI_BASE_URL: endpoint.url, OPENAI_API_KEY: BENCH_KEY } },
      checkpoint: shape.checkpoint === "none" ? { kind: "none" } : { kind: "sqlite", path: paths.checkpoint },
    });
    const wallMs = performance.now() - started;
    const counters = await endpoint.counters();
    return {
      ...shape,
      wallMs,
      calls: counters.completed,
      kept: summary.kept,
      status: summary.status,
      account: await accountCalls(summary, paths.kept, paths.dropped),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** efficiency = ideal / wall, ideal = max(calls × mean latency / concurrency, longest chain × mean latency). */
export function efficiency(result: ScaleResult, meanLatencyMs: number): { idealMs: number; efficiency: number } {
  const idealMs = Math.max((result.calls * meanLatencyMs) / result.concurrency, result.account.chain * meanLatencyMs);
  return { idealMs, efficiency: idealMs / result.wallMs };
}

/**
 * The same number of calls as a pipeline run, made straight through ChatOpenAI at the same concurrency
 * (half free text, half structured, like answers and judgements): the client and transport cost that
 * any orchestration pays, to subtract from the pipeline's time.
 */
export async function bareClientRun(endpoint: Endpoint, calls: number, concurrency: number): Promise<number> {
  const env = { configuration: { baseURL: endpoint.url }, apiKey: BENCH_KEY, maxRetries: 0 };
  const text = new ChatOpenAI({ model: "target-model", temperature: 0.7, maxTokens: 2048, ...env });
  const judge = new ChatOpenAI({ model: "strong-model", temperature: 0, maxTokens: 2048, ...env }).withStructuredOutput(
    z.object({ assistant1: z.number(), assistant2: z.number() }),
    { name: "pairwise_scores", includeRaw: true },
  );
  const prompt = (i: number) =>
    renderPrompt(
      "judge",
      {},
      judgePromptValues(`Benchmark instruction ${i}`, `[strong] answer ${i}`, `[target] answer ${i}`),
    );
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < calls) {
        const i = next++;
        if (i % 2 === 0) await text.invoke([["human", `Answer: benchmark instruction ${i}`]]);
        else await judge.invoke([["human", prompt(i)]]);
      }
    }),
  );
  return performance.now() - started;
}

export interface RssResult {
  size: number;
  peakRssMb: number;
  wallMs: number;
  calls: number;
  kept: number;
  account: CallAccount;
}

/** A run in a fresh process, so its peak RSS is its own (`process.resourceUsage().maxRSS`). */
export function rssRun(endpointUrl: string, shape: RunShape): Promise<RssResult> {
  return new Promise((resolve, reject) => {
    const child = fork(
      fileURLToPath(new URL("./rss-child.ts", import.meta.url)),
      [JSON.stringify({ url: endpointUrl, shape })],
      {
        execArgv: LIKE_CLI_NODE_ARGS,
        stdio: ["ignore", "ignore", "inherit", "ipc"],
      },
    );
    child.once("message", (message) => resolve(message as RssResult));
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`RSS run for N=${shape.size} exited with ${code}`));
    });
  });
}
