/**
 * (g) Scale-out on DBOS: a driver (`generate --engine dbos`) and three `codeclm worker` processes sharing a
 * Postgres database, against the benchmark endpoint (200 ± 50 ms). Each run gets a fresh database on the
 * server of CODECLM_BENCH_POSTGRES_URL (else CODECLM_TEST_POSTGRES_URL). Measures: efficiency (ideal = answered
 * calls × latency / (3 × 8)), a worker killed with -9 after a third of its calls then restarted or recovered
 * (exactly `size` kept, no duplicate id or instruction, calls paid twice), `--max-calls 300` across the fleet,
 * and each worker's share of the filtering calls. Run alone: `npx tsx bench/fleet.ts [--quick] [--base]`.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DBOS } from "@dbos-inc/dbos-sdk";
import pg from "pg";
import { type CliRun, readJson, readJsonl, startCli, waitFor } from "../test/scale/support.js";
import { type Endpoint, startEndpoint } from "./endpoint.js";
import { BENCH_KEY, benchSeeds } from "./scale.js";
import { freshDatabase } from "../test/support/postgres-db.js";

const WORKERS = 3;
const PER_WORKER = 8;

async function workerCalls(url: string, workerId: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const rows = await client.query<{ calls: string }>("SELECT calls FROM codeclm_fleet_workers WHERE worker_id = $1", [
      workerId,
    ]);
    return Number(rows.rows[0]?.calls ?? 0);
  } catch {
    return 0;
  } finally {
    await client.end();
  }
}

/** Where a run's wall time went, from DBOS's own timestamps (ms): before the first instruction was queued, waiting on the queue, running, after the last. */
interface Phases {
  toFirstEnqueueMs: number;
  queueWaitAvgMs: number;
  runAvgMs: number;
  workflowsSpanMs: number;
  afterLastMs: number;
}

async function phases(url: string, started: number, ended: number): Promise<Phases | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const row = (
      await client.query<Record<string, string>>(
        `SELECT min(created_at) AS first, max(coalesce(completed_at, updated_at)) AS last,
           avg(started_at_epoch_ms - created_at) AS wait, avg(coalesce(completed_at, updated_at) - started_at_epoch_ms) AS run
         FROM dbos.workflow_status`,
      )
    ).rows[0];
    if (!row?.first) return undefined;
    const [first, last] = [Number(row.first), Number(row.last)];
    return {
      toFirstEnqueueMs: first - started,
      queueWaitAvgMs: Math.round(Number(row.wait)),
      runAvgMs: Math.round(Number(row.run)),
      workflowsSpanMs: last - first,
      afterLastMs: ended - last,
    };
  } finally {
    await client.end();
  }
}

/** Workers that reported in the last 3 s. */
async function workersUp(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM codeclm_fleet_workers WHERE seen_at > now() - interval '3 seconds'",
    );
    return result.rows[0]?.n ?? 0;
  } catch {
    return 0; // not created yet
  } finally {
    await client.end();
  }
}

/** Mean calls in flight at the endpoint per second of the run. */
function perSecond(samples: Array<[number, number]>, wallMs: number): number[] {
  const means: number[] = [];
  for (let t = 0; t < wallMs; t += 1000) {
    const inBucket = samples.filter(([at]) => at >= t && at < t + 1000).map(([, n]) => n);
    means.push(inBucket.length === 0 ? 0 : Math.round(inBucket.reduce((a, b) => a + b, 0) / inBucket.length));
  }
  return means;
}

interface FleetRun {
  phases?: Phases | undefined;
  /** Mean calls in flight at the endpoint, per second from the driver's start. */
  inFlight: number[];
  wallMs: number;
  calls: number;
  exit: number | null;
  kept: Record<string, unknown>[];
  byWorker: Record<string, { instructions: number; calls: number }>;
}

type Incident = "none" | "restart" | "recover";

async function fleetRun(
  endpoint: Endpoint,
  adminUrl: string,
  options: {
    name: string;
    size: number;
    incident: Incident;
    maxCalls?: number;
    expectedCalls?: number;
    /** A standing fleet: the database set up and every worker up and reporting before the driver starts. */
    standing?: boolean;
    /** No workers: the same run in one process (`--engine local`), for comparison. */
    local?: boolean;
  },
): Promise<FleetRun> {
  const url = await freshDatabase(adminUrl, `codeclm_bench_${options.name}`);
  const dir = await mkdtemp(join(tmpdir(), "codeclm-bench-fleet-"));
  const seeds = join(dir, "seeds.jsonl");
  await writeFile(
    seeds,
    benchSeeds(50)
      .map((seed) => JSON.stringify(seed))
      .join("\n"),
  );
  const env = { OPENAI_BASE_URL: endpoint.url, OPENAI_API_KEY: BENCH_KEY };
  const worker = (id: string): CliRun =>
    startCli(["worker", "--checkpoint", url, "--worker-id", id, "--concurrency", String(PER_WORKER)], env);
  if (options.standing) await DBOS.migrate(url);
  const workers = options.local ? [] : Array.from({ length: WORKERS }, (_, i) => worker(`w${i + 1}`));
  if (options.standing) await waitFor(async () => (await workersUp(url)) === WORKERS, 120_000, "the workers to start");
  await endpoint.reset();
  const out = join(dir, "out.jsonl");
  const started = Date.now();
  const samples: Array<[number, number]> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push([Date.now() - started, (await endpoint.counters()).inFlight]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const driver = startCli(
    [
      "generate",
      ...["--seeds", seeds, "--out", out, "--size", String(options.size), "--pool", "40", "--seed", "7"],
      ...["--concurrency", String(WORKERS * PER_WORKER), "--engine", options.local ? "local" : "dbos"],
      ...["--checkpoint", url, "--quiet"],
      ...["--strong", "openai:strong-model", "--target", "openai:target-model"],
      ...(options.maxCalls ? ["--max-calls", String(options.maxCalls)] : []),
    ],
    env,
  );
  if (options.incident !== "none") {
    // w1 dies after a third of its share of the expected calls.
    const third = Math.max(1, Math.round((options.expectedCalls ?? 600) / WORKERS / 3));
    await waitFor(async () => (await workerCalls(url, "w1")) >= third, 300_000, "w1's first third");
    workers[0]!.child.kill("SIGKILL");
    await workers[0]!.done;
    if (options.incident === "restart") workers.push(worker("w1"));
    else await startCli(["recover", "--checkpoint", url, "--worker-id", "w1"], env).done;
  }
  const done = await driver.done;
  const wallMs = Date.now() - started;
  sampling = false;
  await sampler;
  const timing = await phases(url, started, started + wallMs).catch(() => undefined);
  for (const w of workers) w.child.kill("SIGTERM");
  await Promise.all(workers.map((w) => w.done));
  const calls = (await endpoint.counters()).completed;
  const summary = await readJson(join(dir, "out.summary.json")).catch(() => ({}) as Record<string, any>);
  return {
    phases: timing,
    inFlight: perSecond(samples, wallMs),
    wallMs,
    calls,
    exit: done.code,
    kept: await readJsonl(out),
    byWorker: summary.fleet?.byWorker ?? {},
  };
}

const unique = (values: unknown[]) => new Set(values.map(String)).size;

export async function runFleetBench(log: (text: string) => void, quick = false, baseOnly = false): Promise<unknown> {
  const adminUrl = process.env.CODECLM_BENCH_POSTGRES_URL ?? process.env.CODECLM_TEST_POSTGRES_URL;
  if (!adminUrl) {
    log("  skipped: set CODECLM_BENCH_POSTGRES_URL (or CODECLM_TEST_POSTGRES_URL) to a Postgres server");
    return { skipped: true };
  }
  const size = quick ? 40 : 120;
  const endpoint = await startEndpoint({ latencyMs: 200, jitterMs: 50 });
  try {
    const base = await fleetRun(endpoint, adminUrl, { name: "base", size, incident: "none" });
    const idealMs = (base.calls * 200) / (WORKERS * PER_WORKER);
    log(
      `  ${WORKERS} workers × ${PER_WORKER}, N=${size}: ${base.calls} calls, wall ${(base.wallMs / 1000).toFixed(1)} s (driver process start to exit), ideal ${(idealMs / 1000).toFixed(1)} s -> efficiency ${(idealMs / base.wallMs).toFixed(3)}; exit ${base.exit}, kept ${base.kept.length}`,
    );
    log(`  where the time went (ms, DBOS's timestamps): ${JSON.stringify(base.phases)}`);
    const shares = Object.entries(base.byWorker).map(
      ([id, entry]) => `${id} ${entry.calls} (${entry.instructions} instr.)`,
    );
    log(`  filtering calls by worker: ${shares.join(", ")}`);
    const standing = await fleetRun(endpoint, adminUrl, { name: "standing", size, incident: "none", standing: true });
    const local = await fleetRun(endpoint, adminUrl, { name: "local", size, incident: "none", local: true });
    const efficiencyOf = (run: FleetRun) => (run.calls * 200) / (WORKERS * PER_WORKER) / run.wallMs;
    log(
      `  a standing fleet (database set up, 3 workers up before the driver starts): ${standing.calls} calls, wall ${(standing.wallMs / 1000).toFixed(1)} s -> efficiency ${efficiencyOf(standing).toFixed(3)}; exit ${standing.exit}, kept ${standing.kept.length}`,
    );
    log(`  where the time went (ms): ${JSON.stringify(standing.phases)}`);
    log(
      `  the same run in one process (--engine local --concurrency ${WORKERS * PER_WORKER}, Postgres checkpoints): ${local.calls} calls, wall ${(local.wallMs / 1000).toFixed(1)} s -> efficiency ${efficiencyOf(local).toFixed(3)}; exit ${local.exit}, kept ${local.kept.length}`,
    );
    log(`  calls in flight per second, cold fleet: ${base.inFlight.join(" ")}`);
    log(`  calls in flight per second, standing fleet: ${standing.inFlight.join(" ")}`);
    log(`  calls in flight per second, one process: ${local.inFlight.join(" ")}`);
    const measured = {
      efficiency: idealMs / base.wallMs,
      wallMs: base.wallMs,
      calls: base.calls,
      byWorker: base.byWorker,
      standing: efficiencyOf(standing),
      local: efficiencyOf(local),
    };
    if (baseOnly) return measured;
    const incidents: Record<string, unknown> = {};
    for (const incident of ["restart", "recover"] as const) {
      const run = await fleetRun(endpoint, adminUrl, { name: incident, size, incident, expectedCalls: base.calls });
      const ids = unique(run.kept.map((record) => record.id));
      const texts = unique(run.kept.map((record) => record.instruction));
      incidents[incident] = { kept: run.kept.length, ids, texts, calls: run.calls, paidTwice: run.calls - base.calls };
      log(
        `  w1 killed -9 after a third of its calls, then ${incident === "restart" ? "restarted" : "recovered"}: exit ${run.exit}, kept ${run.kept.length} (${ids} ids, ${texts} instructions), calls ${run.calls} (${run.calls - base.calls} more than without the kill; w1 had up to ${PER_WORKER} calls in flight)`,
      );
    }
    const capped = await fleetRun(endpoint, adminUrl, { name: "budget", size, incident: "none", maxCalls: 300 });
    log(`  --max-calls 300 over ${WORKERS} workers: exit ${capped.exit}, ${capped.calls} answered calls in all`);
    return {
      ...measured,
      incidents,
      maxCalls300: { exit: capped.exit, calls: capped.calls },
    };
  } finally {
    await endpoint.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes("--quick");
  process.stdout.write(`(i) scale-out on DBOS${quick ? " (quick)" : ""}\n`);
  // --base: the efficiency run only (no kill, recover or budget runs).
  const result = await runFleetBench(
    (text) => process.stdout.write(`${text}\n`),
    quick,
    process.argv.includes("--base"),
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
