/**
 * `npm run bench`: scale benchmarks of the whole pipeline against the project's OpenAI-compatible test
 * server (run in its own process, as a real endpoint would be).
 *
 *   (a) efficiency = ideal / wall at concurrency 8, 32 and 128, latency 200 ± 50 ms, where
 *       ideal = max(calls × mean latency / concurrency, longest chain of dependent calls × mean latency);
 *   (b) orchestration overhead per model call at zero latency (pipeline time minus the same number of
 *       bare ChatOpenAI calls, per call);
 *   (c) peak RSS at N = 500 and N = 5000 kept pairs (zero latency, each in a fresh process);
 *   (d) calls per kept pair against the method's minimum;
 *   (e) the near-duplicate filter over a whole run's instructions: time and memory at 10,000 and 100,000
 *       (each new instruction against every earlier one; bench/dedupe.ts).
 *   (f) large seed files through the CLI: 20,000 seeds at --size 10 --pool 20, peak RSS at 1,000 and 100,000
 *       seeds, and how long Ctrl-C and a budget take to stop a run at 100,000 seeds (bench/seeds.ts).
 *   (g) CPU per model call at concurrency 128, zero latency: the process's CPU time over a whole run per call
 *       answered, beside bare ChatOpenAI calls (bench/cpu.ts).
 *   (h) start-up: `codeclm --help` from the clone beside a bare tsx start, and from the built package
 *       (after `npm run build`) beside a bare node start; medians of interleaved runs (bench/startup.ts).
 *   (i) scale-out on DBOS (with CODECLM_BENCH_POSTGRES_URL set): a driver and 3 workers × 8 sharing Postgres,
 *       efficiency, kill -9 then restart or recover, --max-calls 300 over the fleet, calls per worker (bench/fleet.ts).
 *
 * Options: --quick (smaller runs), --latency MS, --jitter MS, --faults RATE (share of requests that get a
 * 429/500/503/malformed-JSON/dropped-connection fault), --only a,b,c,d,e,f,g,h,i. Not part of `npm test`.
 */
import { existsSync } from "node:fs";
import { setUpLikeTheCli } from "./like-cli.js";
import { parseArgs } from "node:util";
import { type Endpoint, startEndpoint } from "./endpoint.js";
import { formatDedupeRow, runDedupeBench } from "./dedupe.js";
import { type ScaleResult, bareClientRun, efficiency, rssRun, scaleRun } from "./scale.js";
import { runSeedBench } from "./seeds.js";
import { cpuPerCall, formatCpuRow } from "./cpu.js";
import { runStartupBench } from "./startup.js";

await setUpLikeTheCli();

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    latency: { type: "string", default: "200" },
    jitter: { type: "string", default: "50" },
    faults: { type: "string", default: "0" },
    only: { type: "string", default: "a,b,c,d,e,f,g,h" },
  },
});
const quick = values.quick ?? false;
const latency = Number(values.latency);
const jitter = Number(values.jitter);
const faultRate = Number(values.faults);
const only = new Set((values.only ?? "a,b,c,d,e,f,g,h").split(","));
const SEEDS = 50;
const POOL = 200;

const ms = (n: number) => `${(n / 1000).toFixed(1)} s`;
const log = (text: string) => process.stdout.write(`${text}\n`);
const results: Record<string, unknown> = { latencyMs: latency, jitterMs: jitter, faultRate, quick };

function accountLine(result: Pick<ScaleResult, "account" | "kept" | "calls">): string {
  const { account } = result;
  const per = (n: number) => (n / Math.max(1, result.kept)).toFixed(2);
  return (
    `calls/kept ${account.perKept.toFixed(2)} (method minimum ${account.minimumPerKept.toFixed(2)}: 4 + setup ${per(account.setup)}; ` +
    `filtering the kept ${per(account.onKept)}, dropped at the iteration cap ${per(account.onMaxIterations)}, surplus ${per(account.onSurplus)})`
  );
}

async function withEndpoint<T>(
  options: Parameters<typeof startEndpoint>[0],
  body: (endpoint: Endpoint) => Promise<T>,
): Promise<T> {
  const endpoint = await startEndpoint(options);
  try {
    return await body(endpoint);
  } finally {
    await endpoint.close();
  }
}

log(
  `codeclm scale benchmark${quick ? " (quick)" : ""}: pool ${POOL}, ${SEEDS} seeds, SQLite checkpoints and call journal on`,
);

if (only.has("a")) {
  log(`\n(a) efficiency at latency ${latency} ± ${jitter} ms${faultRate > 0 ? `, ${faultRate * 100}% faults` : ""}`);
  const points = quick
    ? [
        { concurrency: 8, size: 60 },
        { concurrency: 32, size: 240 },
        { concurrency: 128, size: 600 },
      ]
    : [
        // Sized so each run is well past its fixed costs (setup chain, the last wave's tail): N as in the paper.
        { concurrency: 8, size: 250 },
        { concurrency: 32, size: 1000 },
        { concurrency: 128, size: 2000 },
      ];
  const rows: unknown[] = [];
  await withEndpoint({ latencyMs: latency, jitterMs: jitter, faultRate }, async (endpoint) => {
    for (const point of points) {
      const result = await scaleRun(endpoint, { ...point, pool: POOL, seeds: SEEDS, checkpoint: "sqlite" });
      const { idealMs, efficiency: value } = efficiency(result, latency);
      rows.push({
        ...point,
        wallMs: result.wallMs,
        idealMs,
        efficiency: value,
        calls: result.calls,
        chain: result.account.chain,
        callsPerKept: result.account.perKept,
      });
      log(
        `  concurrency ${String(point.concurrency).padStart(3)}  N=${point.size}: ${result.calls} calls, wall ${ms(result.wallMs)}, ideal ${ms(idealMs)} ` +
          `(chain ${result.account.chain}) -> efficiency ${value.toFixed(3)}; ${result.status}, kept ${result.kept}`,
      );
      log(`      ${accountLine(result)}`);
    }
  });
  results.efficiency = rows;
}

if (only.has("b")) {
  log("\n(b) orchestration overhead per call at zero latency");
  const size = quick ? 150 : 500;
  const concurrency = 32;
  await withEndpoint({ latencyMs: 0, jitterMs: 0 }, async (endpoint) => {
    // Warm up: module loading, JIT, connections.
    await scaleRun(endpoint, { size: 20, concurrency, pool: 20, seeds: 10, checkpoint: "sqlite" });
    const pipeline = await scaleRun(endpoint, { size, concurrency, pool: POOL, seeds: SEEDS, checkpoint: "sqlite" });
    const memory = await scaleRun(endpoint, { size, concurrency, pool: POOL, seeds: SEEDS, checkpoint: "none" });
    await bareClientRun(endpoint, 500, concurrency);
    const bareMs = await bareClientRun(endpoint, pipeline.calls, concurrency);
    const perCall = pipeline.wallMs / pipeline.calls;
    const barePerCall = bareMs / pipeline.calls;
    const overhead = perCall - barePerCall;
    const noCheckpoints = memory.wallMs / memory.calls - barePerCall;
    log(
      `  N=${size}, concurrency ${concurrency}: ${pipeline.calls} calls in ${ms(pipeline.wallMs)} = ${perCall.toFixed(3)} ms/call; ` +
        `bare ChatOpenAI calls ${barePerCall.toFixed(3)} ms/call`,
    );
    log(
      `  overhead ${overhead.toFixed(3)} ms/call with checkpoints and journal (${noCheckpoints.toFixed(3)} ms/call with --checkpoint none)`,
    );
    results.overhead = {
      size,
      concurrency,
      calls: pipeline.calls,
      perCallMs: perCall,
      barePerCallMs: barePerCall,
      overheadMs: overhead,
      overheadNoCheckpointsMs: noCheckpoints,
    };
  });
}

if (only.has("c") || only.has("d")) {
  log("\n(c) peak RSS (zero latency, each run in a fresh process, twice per size) and (d) calls per kept pair");
  const sizes = quick ? [200, 2000] : [500, 5000];
  const rows: Awaited<ReturnType<typeof rssRun>>[] = [];
  const means: number[] = [];
  await withEndpoint({ latencyMs: 0, jitterMs: 0 }, async (endpoint) => {
    for (const size of sizes) {
      // Peak RSS follows the garbage collector's timing as much as live data: two runs per size.
      const runs = [];
      for (let i = 0; i < 2; i++)
        runs.push(
          await rssRun(endpoint.url, { size, concurrency: 32, pool: POOL, seeds: SEEDS, checkpoint: "sqlite" }),
        );
      rows.push(...runs);
      const mean = runs.reduce((sum, run) => sum + run.peakRssMb, 0) / runs.length;
      means.push(mean);
      log(
        `  N=${size}: peak RSS ${runs.map((run) => `${run.peakRssMb.toFixed(0)} MB`).join(", ")} (mean ${mean.toFixed(0)} MB), ${runs[0]!.calls} calls in ${ms(runs[0]!.wallMs)}`,
      );
      log(`      ${accountLine(runs[0]!)}`);
    }
  });
  const ratio = means[1]! / means[0]!;
  log(`  peak RSS at N=${sizes[1]} / at N=${sizes[0]} (means): ${ratio.toFixed(2)} (target <= 1.5)`);
  results.rss = { rows, means, ratio };
}

if (only.has("e")) {
  log(
    "\n(e) near-duplicate filter: every instruction of a run against every earlier one (synthetic instructions, 10% near-repeats)",
  );
  const rows = runDedupeBench(quick ? [10_000] : [10_000, 100_000]);
  for (const row of rows) log(`  ${formatDedupeRow(row)}`);
  results.dedupe = rows;
}

if (only.has("f")) {
  log("\n(f) large seed files (the CLI in a fresh process per run)");
  results.seeds = await withEndpoint({ latencyMs: 0, jitterMs: 0 }, (instant) =>
    withEndpoint({ latencyMs: 200, jitterMs: 50 }, (slow) => runSeedBench({ instant, slow }, log, quick)),
  );
}

if (only.has("g")) {
  log("\n(g) CPU per model call at concurrency 128 (zero latency; the endpoint's own CPU not counted)");
  const size = quick ? 300 : 600;
  results.cpu = await withEndpoint({ latencyMs: 0, jitterMs: 0 }, async (endpoint) => {
    const rows = [];
    for (const checkpoint of ["sqlite", "none"] as const) {
      const row = await cpuPerCall(endpoint, { size, concurrency: 128, pool: POOL, seeds: SEEDS, checkpoint });
      log(`  ${formatCpuRow(row)}`);
      rows.push(row);
    }
    return rows;
  });
}

if (only.has("h")) {
  log("\n(h) start-up (median wall time of interleaved runs)");
  const { rows, built } = runStartupBench(quick ? 5 : 9);
  for (const row of rows) log(`  ${row.label.padEnd(48)} ${row.medianMs.toFixed(0).padStart(5)} ms`);
  if (!built) log("  (no dist/: run `npm run build` to time the built package)");
  results.startup = rows;
}

if (only.has("i") || process.env.CODECLM_BENCH_POSTGRES_URL) {
  log("\n(i) scale-out on DBOS: a driver and 3 workers × 8 sharing Postgres, 200 ± 50 ms");
  const { runFleetBench } = await import("./fleet.js");
  results.fleet = await runFleetBench(log, quick);
}

// ---------------------------------------------------------------------------------------------------------
// Hook: local-model benchmark. Another part of the project adds bench/local.ts exporting runLocalBench();
// when that file exists it runs here, after the scale benchmarks.
// ---------------------------------------------------------------------------------------------------------
if (existsSync(new URL("./local.ts", import.meta.url))) {
  const local = (await import(new URL("./local.ts", import.meta.url).href)) as {
    runLocalBench?: () => Promise<unknown>;
  };
  if (typeof local.runLocalBench === "function") {
    log("\nlocal-model benchmark (bench/local.ts)");
    results.local = await local.runLocalBench();
  }
}

log(`\n${JSON.stringify(results)}`);
