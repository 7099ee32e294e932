/**
 * (e) Large seed files, through the CLI as a user runs it (`codeclm generate --seeds FILE`), each run in a
 * fresh process against the benchmark endpoint: wall time and encode calls for 20,000 seeds with
 * `--size 10 --pool 20`; peak RSS with 1,000 and with 100,000 seeds (target: within × 1.5); and how long a
 * stop takes at 100,000 seeds, after Ctrl-C and after a budget (target: a few seconds).
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Endpoint } from "./endpoint.js";
import { LIKE_CLI_NODE_ARGS } from "./like-cli.js";
import { BENCH_KEY } from "./scale.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const child = join(root, "bench", "seeds-child.ts");

export interface SeedRun {
  seeds: number;
  exitCode: number;
  wallMs: number;
  peakRssMb: number;
  encodeCalls?: number;
  /** From the signal (or the budget being reached) to the process's exit. */
  stopMs?: number;
}

async function writeSeeds(dir: string, count: number): Promise<string> {
  const topics = ["poetry", "pandas", "interest rates", "bread", "chess openings", "tides", "sorting", "volcanoes"];
  const path = join(dir, `seeds-${count}.jsonl`);
  const lines: string[] = [];
  for (let i = 0; i < count; i++)
    lines.push(
      JSON.stringify({
        id: `s${i}`,
        instruction: `Explain ${topics[i % topics.length]} to reader number ${i}, with an example.`,
      }),
    );
  await writeFile(path, `${lines.join("\n")}\n`);
  return path;
}

interface RunPlan {
  seeds: number;
  args: string[];
  /** Send SIGINT once the endpoint has answered this many calls. */
  interruptAfterCalls?: number;
  /** Measure the stop from the moment the endpoint has answered this many calls (a budget of that size). */
  budgetCalls?: number;
}

async function runGenerate(endpoint: Endpoint, dir: string, seedsPath: string, plan: RunPlan): Promise<SeedRun> {
  const report = join(dir, `report-${plan.seeds}-${Date.now()}.json`);
  const out = join(dir, `out-${plan.seeds}-${Date.now()}.jsonl`);
  await endpoint.reset();
  const started = performance.now();
  const proc = spawn(
    process.execPath,
    [
      ...LIKE_CLI_NODE_ARGS,
      child,
      "generate",
      "--seeds",
      seedsPath,
      "--out",
      out,
      "--strong",
      "openai:strong-model",
      "--target",
      "openai:target-model",
      "--quiet",
      ...plan.args,
    ],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        OPENAI_BASE_URL: endpoint.url,
        OPENAI_API_KEY: BENCH_KEY,
        CODECLM_BENCH_REPORT: report,
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  proc.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number>((resolve) => proc.on("close", (code) => resolve(code ?? -1)));
  let stopFrom: number | undefined;
  const threshold = plan.interruptAfterCalls ?? plan.budgetCalls;
  if (threshold !== undefined) {
    let done = false;
    void exited.then(() => (done = true));
    while (!done) {
      if ((await endpoint.counters()).completed >= threshold) {
        stopFrom = performance.now();
        if (plan.interruptAfterCalls !== undefined) proc.kill("SIGINT");
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const exitCode = await exited;
  const ended = performance.now();
  const { peakRssMb } = JSON.parse(await readFile(report, "utf8")) as { peakRssMb: number };
  let encodeCalls: number | undefined;
  try {
    const summary = JSON.parse(await readFile(out.replace(/\.jsonl$/, ".summary.json"), "utf8")) as {
      calls: { byStep: Record<string, { calls: number }> };
    };
    encodeCalls = summary.calls.byStep.encode?.calls ?? 0;
  } catch {
    if (exitCode !== 0 && exitCode !== 4 && exitCode !== 130)
      throw new Error(`generate exited ${exitCode}: ${stderr.slice(-2000)}`);
  }
  return {
    seeds: plan.seeds,
    exitCode,
    wallMs: ended - started,
    peakRssMb,
    ...(encodeCalls !== undefined ? { encodeCalls } : {}),
    ...(stopFrom !== undefined ? { stopMs: ended - stopFrom } : {}),
  };
}

export async function runSeedBench(
  endpoints: { instant: Endpoint; slow: Endpoint },
  log: (text: string) => void,
  quick: boolean,
) {
  const dir = await mkdtemp(join(tmpdir(), "codeclm-bench-seeds-"));
  try {
    const big = quick ? 30_000 : 100_000;
    const files = {
      small: await writeSeeds(dir, 1000),
      done: await writeSeeds(dir, 20_000),
      big: await writeSeeds(dir, big),
    };
    const base = ["--size", "10", "--pool", "20"];
    const twenty = await runGenerate(endpoints.instant, dir, files.done, { seeds: 20_000, args: base });
    log(
      `  20,000 seeds, --size 10 --pool 20: ${(twenty.wallMs / 1000).toFixed(1)} s, ${twenty.encodeCalls} encode calls, exit ${twenty.exitCode} (targets: < 60 s, a few hundred calls at most)`,
    );
    const rss: SeedRun[] = [];
    for (const [count, path] of [
      [1000, files.small],
      [big, files.big],
    ] as const) {
      // Peak RSS follows the garbage collector's timing: two runs per size.
      for (let i = 0; i < 2; i++)
        rss.push(await runGenerate(endpoints.instant, dir, path, { seeds: count, args: base }));
    }
    const mean = (count: number) =>
      rss.filter((run) => run.seeds === count).reduce((sum, run) => sum + run.peakRssMb, 0) / 2;
    const ratio = mean(big) / mean(1000);
    log(
      `  peak RSS, --size 10 --pool 20: ${rss.map((run) => `${run.seeds} seeds ${run.peakRssMb.toFixed(0)} MB`).join(", ")}; ` +
        `${big} / 1,000 (means) ${ratio.toFixed(2)} (target <= 1.5)`,
    );
    const stopArgs = ["--size", "200", "--pool", "200", "--concurrency", "16"];
    const interrupt = await runGenerate(endpoints.slow, dir, files.big, {
      seeds: big,
      args: stopArgs,
      interruptAfterCalls: 40,
    });
    const budget = await runGenerate(endpoints.slow, dir, files.big, {
      seeds: big,
      args: [...stopArgs, "--max-calls", "60"],
      budgetCalls: 60,
    });
    log(
      `  stop at ${big} seeds (latency 200 ms, concurrency 16): Ctrl-C after 40 calls -> exit ${interrupt.exitCode} in ${((interrupt.stopMs ?? 0) / 1000).toFixed(1)} s; ` +
        `--max-calls 60 -> exit ${budget.exitCode} ${((budget.stopMs ?? 0) / 1000).toFixed(1)} s after the 60th call (target: a few seconds)`,
    );
    return { twenty, rss, rssRatio: ratio, interrupt, budget };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
