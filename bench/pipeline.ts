/**
 * `tsx bench/pipeline.ts`: the pipeline's shape (issue 13): efficiency and the in-flight timeline at
 * 200 ± 50 ms, calls per kept pair beside the method's minimum, and setup calls with default settings
 * (no pool size given). Runs against the OpenAI-protocol test server in its own process.
 *
 * Options: --runs "32:300,32:1000,128:2000" (concurrency:size, latency runs), --calls "20,300,5000" (sizes
 * run at --calls-latency, default 5 ms, concurrency 32), --seeds 60, --latency 200, --jitter 50, --step 500
 * (timeline bucket, ms), --json FILE.
 */
import { writeFileSync } from "node:fs";
import { setUpLikeTheCli } from "./like-cli.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { outputPathsFor } from "../runner/output.js";
import { runToFiles } from "../runner/run.js";
import { type Endpoint, startEndpoint } from "./endpoint.js";
import { BENCH_KEY, type CallAccount, accountCalls, benchSeeds } from "./scale.js";

await setUpLikeTheCli();

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "32:300,32:1000,128:2000" },
    calls: { type: "string", default: "20,300,5000" },
    seeds: { type: "string", default: "60" },
    latency: { type: "string", default: "200" },
    jitter: { type: "string", default: "50" },
    "calls-latency": { type: "string", default: "5" },
    step: { type: "string", default: "500" },
    json: { type: "string" },
    /** Extra settings as JSON, e.g. '{"expectedKeepRate":0.9}'. */
    settings: { type: "string", default: "{}" },
  },
});
const log = (text: string) => process.stdout.write(`${text}\n`);
const latency = Number(values.latency);
const seeds = Number(values.seeds);
const step = Number(values.step);

interface PipelineRun {
  size: number;
  concurrency: number;
  wallMs: number;
  calls: number;
  kept: number;
  status: string;
  byStep: Record<string, number>;
  account: CallAccount;
  /** Mean calls in flight per `step` ms (sampled every 50 ms at the endpoint). */
  timeline: number[];
  /** CPU time of this process (user + system) per call: the orchestration's cost, whatever the load. */
  cpuMsPerCall: number;
  /** The run's shape from the samples: see `phases`. */
  phases: Phases;
}

/**
 * From the in-flight samples: until the calls in flight reach 90% of the concurrency and stay above half
 * of it for a second (the setup chain and the wave's start), from the last time they were at 90% to the
 * last call (the drain), and from the last call to the run's end (collecting, the last checkpoints, the
 * files).
 */
interface Phases {
  rampMs: number;
  drainMs: number;
  afterLastCallMs: number;
}

function phasesOf(samples: ReadonlyArray<[number, number]>, concurrency: number, wallMs: number): Phases {
  const full = samples.filter(([, n]) => n >= 0.9 * concurrency).map(([at]) => at);
  const busy = samples.filter(([, n]) => n > 0).map(([at]) => at);
  const lastCall = busy.at(-1) ?? wallMs;
  const lastFull = full.at(-1) ?? lastCall;
  const sustained = full.find((from) =>
    samples.every(([at, n]) => at < from || at > from + 1000 || n >= 0.5 * concurrency),
  );
  return { rampMs: sustained ?? wallMs, drainMs: lastCall - lastFull, afterLastCallMs: wallMs - lastCall };
}

async function run(endpoint: Endpoint, size: number, concurrency: number, sample: boolean): Promise<PipelineRun> {
  const dir = await mkdtemp(join(tmpdir(), "codeclm-pipeline-"));
  const paths = outputPathsFor(join(dir, "out.jsonl"));
  const samples: Array<[number, number]> = [];
  let sampling = sample;
  try {
    await endpoint.reset();
    const cpu = process.cpuUsage();
    const started = performance.now();
    const sampler = (async () => {
      while (sampling) {
        const counters = await endpoint.counters();
        samples.push([performance.now() - started, counters.inFlight]);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const summary = await runToFiles({
      input: { seeds: benchSeeds(seeds) },
      // Defaults everywhere else: the pool size is what the run chooses.
      config: {
        size,
        concurrency,
        seed: 7,
        strong: { model: "openai:strong-model" },
        target: { model: "openai:target-model" },
        ...(JSON.parse(values.settings ?? "{}") as object),
      },
      paths,
      graph: { env: { OPENAI_BASE_URL: endpoint.url, OPENAI_API_KEY: BENCH_KEY } },
      checkpoint: { kind: "sqlite", path: paths.checkpoint },
    });
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    sampling = false;
    await sampler;
    const counters = await endpoint.counters();
    const timeline: number[] = [];
    for (let t = 0; t < wallMs; t += step) {
      const inBucket = samples.filter(([at]) => at >= t && at < t + step).map(([, n]) => n);
      timeline.push(inBucket.length === 0 ? 0 : inBucket.reduce((a, b) => a + b, 0) / inBucket.length);
    }
    const byStep = Object.fromEntries(Object.entries(summary.calls.byStep).map(([key, value]) => [key, value.calls]));
    return {
      size,
      concurrency,
      wallMs,
      calls: counters.completed,
      kept: summary.kept,
      status: summary.status,
      byStep,
      account: await accountCalls(summary, paths.kept, paths.dropped),
      timeline,
      cpuMsPerCall: (used.user + used.system) / 1000 / Math.max(1, counters.completed),
      phases: phasesOf(samples, concurrency, wallMs),
    };
  } finally {
    sampling = false;
    await rm(dir, { recursive: true, force: true });
  }
}

const bar = (n: number, of: number) => "#".repeat(Math.round((n / of) * 40));

function report(result: PipelineRun, withTimeline: boolean): void {
  const idealMs = Math.max((result.calls * latency) / result.concurrency, result.account.chain * latency);
  // Surplus calls (on instructions with no place in the output) are work the run did not need: not in the ideal.
  const neededMs = Math.max(
    ((result.calls - result.account.onSurplus) * latency) / result.concurrency,
    result.account.chain * latency,
  );
  log(
    `c${result.concurrency} N=${result.size}: ${result.calls} calls, wall ${(result.wallMs / 1000).toFixed(1)} s, ` +
      `ideal ${(idealMs / 1000).toFixed(1)} s -> efficiency ${(idealMs / result.wallMs).toFixed(3)}; ${result.status}, kept ${result.kept}`,
  );
  log(
    `  surplus: ${result.account.onSurplus} calls (${((100 * result.account.onSurplus) / result.calls).toFixed(1)}%); ` +
      `efficiency on needed calls ${(neededMs / result.wallMs).toFixed(3)}`,
  );
  log(
    `  calls/kept ${result.account.perKept.toFixed(2)} (method minimum ${result.account.minimumPerKept.toFixed(2)}), ` +
      `setup ${result.account.setup}, CPU ${result.cpuMsPerCall.toFixed(2)} ms/call; by step ${JSON.stringify(result.byStep)}`,
  );
  if (!withTimeline) return;
  const { rampMs, drainMs, afterLastCallMs } = result.phases;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  log(
    `  phases: ramp to 90% in flight ${seconds(rampMs)}, drain ${seconds(drainMs)}, after the last call ${seconds(afterLastCallMs)}`,
  );
  log(`  in flight (mean per ${step} ms):`);
  result.timeline.forEach((n, i) =>
    log(`  ${((i * step) / 1000).toFixed(1).padStart(5)} s ${n.toFixed(0).padStart(4)} ${bar(n, result.concurrency)}`),
  );
}

const out: Record<string, unknown> = { latency, seeds };
const runs = (values.runs ?? "")
  .split(",")
  .filter(Boolean)
  .map((item) => item.split(":").map(Number) as [number, number]);
if (runs.length > 0) {
  const endpoint = await startEndpoint({ latencyMs: latency, jitterMs: Number(values.jitter) });
  try {
    const rows = [];
    for (const [concurrency, size] of runs) {
      const result = await run(endpoint, size, concurrency, true);
      report(result, true);
      rows.push(result);
    }
    out.efficiency = rows;
  } finally {
    await endpoint.close();
  }
}
const sizes = (values.calls ?? "").split(",").filter(Boolean).map(Number);
if (sizes.length > 0) {
  const callsLatency = Number(values["calls-latency"]);
  const endpoint = await startEndpoint({ latencyMs: callsLatency, jitterMs: callsLatency / 2 });
  try {
    const rows = [];
    for (const size of sizes) {
      const result = await run(endpoint, size, 32, false);
      report(result, false);
      rows.push(result);
    }
    out.callsPerKept = rows;
  } finally {
    await endpoint.close();
  }
}
if (values.json) writeFileSync(values.json, JSON.stringify(out));
