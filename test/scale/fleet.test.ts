/**
 * Scale-out on DBOS Transact: `generate --engine dbos` (the driver) and `codeclm worker` processes sharing
 * one Postgres database (a fresh database per test). The fleet must write what a local run writes, record
 * for record in file order (all fields but run ids, timings and which worker decided), every record naming
 * its worker; a worker killed with -9 and restarted, or recovered by `codeclm recover`, loses and repeats
 * nothing. Needs Postgres: CODECLM_TEST_POSTGRES_URL (set by .ci/run); under CI=true a missing one fails.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { FakeOpenAIServer } from "../support/openai-server.js";
import { freshDatabase, postgresAdminUrl } from "../support/postgres-db.js";
import { skipWithoutPostgres } from "../support/postgres-gate.js";
import { generateArgs } from "../support/cli.js";
import {
  type CliRun,
  killStartedClis,
  readJson,
  readJsonl,
  readRecords,
  runCli,
  startCli,
  startCodecServer,
  waitFor,
  writeSeeds,
} from "./support.js";

const adminUrl = postgresAdminUrl;
const skip = await skipWithoutPostgres();

afterEach(async (context) => killStartedClis({ tell: context.task.result?.state === "fail" }));

const SECRET = "sk-test-fleet-0123456789abcdef";
const VOLATILE_FLEET = (record: unknown) => {
  const { decidedBy, ...rest } = record as Record<string, unknown>;
  void decidedBy;
  return rest;
};

describe.skipIf(skip)("codeclm generate --engine dbos with codeclm workers", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  let seeds: string;
  /** Calls a local run of the same settings makes (the first test sets it). */
  let localCalls = 0;
  const env = () => ({ OPENAI_BASE_URL: server.url, OPENAI_API_KEY: SECRET });
  const args = (out: string, ...more: string[]) =>
    generateArgs({ seeds, out, size: 24, pool: 8, seed: 5, concurrency: 8 }, "--quiet", ...more);
  const worker = (url: string, id: string, concurrency = 4): CliRun =>
    // As many instructions as calls: each worker goes through several rounds, so a kill finds some done and some running.
    startCli(
      [
        ...["worker", "--checkpoint", url, "--worker-id", id],
        ...["--concurrency", String(concurrency), "--instructions", String(concurrency)],
      ],
      env(),
    );

  beforeAll(async () => {
    server = await startCodecServer({ recordRequests: false, latencyMs: { mean: 60 } });
    dir = await mkdtemp(join(tmpdir(), "codeclm-fleet-"));
    seeds = await writeSeeds(dir, 12);
  });
  afterAll(async () => server?.close());

  it("writes what a local run writes, each record naming the worker that decided it", async () => {
    const local = await runCli(args(join(dir, "local.jsonl"), "--checkpoint", "none"), env());
    expect(local.code, local.stderr).toBe(0);
    localCalls = server.counters.completed;

    const url = await freshDatabase(adminUrl, "codeclm_fleet_e2e");
    const before = server.counters.completed;
    const loud = args(join(dir, "fleet.jsonl"), "--engine", "dbos", "--checkpoint", url, "--progress-interval", "0.5");
    const driver = startCli(
      loud.filter((arg) => arg !== "--quiet"),
      env(),
    );
    const workers = [worker(url, "w1"), worker(url, "w2")];
    const done = await driver.done;
    expect(done.code, done.stderr).toBe(0);
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.done));

    const kept = await readJsonl(join(dir, "fleet.jsonl"));
    const dropped = await readJsonl(join(dir, "fleet.dropped.jsonl"));
    expect(kept).toHaveLength(24);
    expect((await readRecords(join(dir, "fleet.jsonl"))).map(VOLATILE_FLEET)).toEqual(
      await readRecords(join(dir, "local.jsonl")),
    );
    expect((await readRecords(join(dir, "fleet.dropped.jsonl"))).map(VOLATILE_FLEET)).toEqual(
      await readRecords(join(dir, "local.dropped.jsonl")),
    );
    for (const record of kept) expect(["w1", "w2"]).toContain(record.decidedBy);
    const instructionDrops = dropped.filter((record) => record.kind === "instruction");
    for (const record of instructionDrops) expect(["w1", "w2"]).toContain(record.decidedBy);
    expect(new Set(kept.map((record) => record.decidedBy)).size).toBe(2);
    // The same calls as the local run: nothing paid twice.
    expect(server.counters.completed - before).toBe(localCalls);
    const summary = await readJson(join(dir, "fleet.summary.json"));
    expect(summary.status).toBe("complete");
    // The summary says who decided what and the calls each made; the progress line showed the fleet.
    const byWorker = summary.fleet.byWorker as Record<string, { instructions: number; calls: number }>;
    expect(Object.keys(byWorker).sort()).toEqual(["w1", "w2"]);
    const decided = Object.values(byWorker).reduce((sum, entry) => sum + entry.instructions, 0);
    expect(decided).toBe(kept.length + instructionDrops.length);
    for (const entry of Object.values(byWorker)) expect(entry.calls).toBeGreaterThan(0);
    expect(done.stderr).toMatch(/fleet: [12] workers? \(w\d \d+(, w\d \d+)? in flight\) · queue \d+/i);
  }, 240_000);

  /** This database's instruction workflows run by a worker, by status. */
  async function workflows(url: string, workerId: string): Promise<Record<string, number>> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const result = await client.query<{ status: string; n: number }>(
        "SELECT status, COUNT(*)::int AS n FROM dbos.workflow_status WHERE executor_id = $1 GROUP BY status",
        [workerId],
      );
      return Object.fromEntries(result.rows.map((row) => [row.status, row.n]));
    } catch {
      return {}; // not migrated yet
    } finally {
      await client.end();
    }
  }

  /** A fleet run in which `w1` is killed with -9 once it has finished some instructions and has others in flight. */
  async function runWithKilledWorker(name: string, revive: (url: string) => Promise<CliRun[]>) {
    const url = await freshDatabase(adminUrl, `codeclm_fleet_${name}`);
    const before = server.counters.completed;
    const driver = startCli(
      args(join(dir, `${name}.jsonl`), "--engine", "dbos", "--checkpoint", url, "--keep-checkpoints"),
      env(),
    );
    const w1 = worker(url, "w1");
    const others = [worker(url, "w2")];
    await waitFor(
      async () => {
        const seen = await workflows(url, "w1");
        return (seen.SUCCESS ?? 0) >= 2 && (seen.PENDING ?? 0) >= 1;
      },
      60_000,
      "w1 to be half-way",
    );
    w1.child.kill("SIGKILL");
    await w1.done;
    others.push(...(await revive(url)));
    const done = await driver.done;
    expect(done.code, done.stderr).toBe(0);
    for (const w of others) w.child.kill("SIGTERM");
    await Promise.all(others.map((w) => w.done));
    return { url, calls: server.counters.completed - before };
  }

  it("a worker killed with -9 and restarted under its id resumes its instructions: nothing lost or repeated", async () => {
    const { calls } = await runWithKilledWorker("restart", async (url) => [worker(url, "w1")]);
    const kept = await readJsonl(join(dir, "restart.jsonl"));
    expect(kept).toHaveLength(24);
    expect(new Set(kept.map((record) => record.id)).size).toBe(24);
    expect((await readRecords(join(dir, "restart.jsonl"))).map(VOLATILE_FLEET)).toEqual(
      await readRecords(join(dir, "local.jsonl")),
    );
    expect((await readRecords(join(dir, "restart.dropped.jsonl"))).map(VOLATILE_FLEET)).toEqual(
      await readRecords(join(dir, "local.dropped.jsonl")),
    );
    // Paid twice: at most the calls w1 had in flight (4 instructions, two answers each at most).
    expect(calls - localCalls).toBeLessThanOrEqual(8);
  }, 240_000);

  it("codeclm recover hands a dead worker's instructions to the others", async () => {
    const { calls } = await runWithKilledWorker("recover", async (url) => {
      const recovered = await runCli(["recover", "--checkpoint", url, "--worker-id", "w1"], env());
      expect(recovered.code, recovered.stderr).toBe(0);
      expect(recovered.stdout).toMatch(/put back on the queue/);
      return [];
    });
    expect((await readRecords(join(dir, "recover.jsonl"))).map(VOLATILE_FLEET)).toEqual(
      await readRecords(join(dir, "local.jsonl")),
    );
    const kept = await readJsonl(join(dir, "recover.jsonl"));
    expect(kept.filter((record) => record.decidedBy === "w2").length).toBeGreaterThan(0);
    expect(calls - localCalls).toBeLessThanOrEqual(8);
  }, 240_000);

  it("one budget across the fleet: --max-calls stops the fleet (exit 4) within it, and a resume completes", async () => {
    const url = await freshDatabase(adminUrl, "codeclm_fleet_budget");
    const out = join(dir, "budget.jsonl");
    if (localCalls === 0) {
      await runCli(args(join(dir, "local.jsonl"), "--checkpoint", "none", "--force"), env());
      localCalls = server.counters.completed;
    }
    const budget = Math.floor(localCalls / 2);
    const workers = [worker(url, "w1"), worker(url, "w2")];
    const before = server.counters.completed;
    const stopped = await runCli(
      args(out, "--engine", "dbos", "--checkpoint", url, "--max-calls", String(budget)),
      env(),
    );
    expect(stopped.code, stopped.stderr).toBe(4);
    // Workers finish what they hold; the budget holds for all of them.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(server.counters.completed - before).toBeLessThanOrEqual(budget);
    const resumed = await runCli(
      args(out, "--engine", "dbos", "--checkpoint", url, "--resume", "--max-calls", String(localCalls * 2)),
      env(),
    );
    expect(resumed.code, resumed.stderr).toBe(0);
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.done));
    expect((await readRecords(out)).map(VOLATILE_FLEET)).toEqual(await readRecords(join(dir, "local.jsonl")));
  }, 240_000);

  it("a role's --ROLE-concurrency holds across the fleet: 3 workers × 8 never have more target calls in flight", async () => {
    const CAP = 2;
    // The target on its own server, so its in-flight count is the target endpoint's alone.
    const target = await startCodecServer({ recordRequests: false, latencyMs: { mean: 400, jitter: 50 } });
    try {
      if (localCalls === 0) {
        await runCli(args(join(dir, "local.jsonl"), "--checkpoint", "none", "--force"), env());
        localCalls = server.counters.completed;
      }
      const url = await freshDatabase(adminUrl, "codeclm_fleet_caps");
      const out = join(dir, "caps.jsonl");
      const own = { ...env(), CODECLM_TARGET_BASE_URL: target.url };
      const workers = ["w1", "w2", "w3"].map((id) =>
        // 8 instructions each (not the default 32), so the 24-pair run spreads over the three.
        startCli(["worker", "--checkpoint", url, "--worker-id", id, "--concurrency", "8", "--instructions", "8"], own),
      );
      const done = await runCli(
        args(out, "--engine", "dbos", "--checkpoint", url, "--target-concurrency", String(CAP)).map((arg, i, all) =>
          all[i - 1] === "--concurrency" ? "24" : arg,
        ),
        own,
      );
      expect(done.code, done.stderr).toBe(0);
      for (const w of workers) w.child.kill("SIGTERM");
      await Promise.all(workers.map((w) => w.done));
      expect(target.counters.completed).toBeGreaterThan(CAP);
      // Each worker alone would allow CAP; three would reach 3 × CAP without the fleet-wide slots.
      expect(target.counters.maxInFlight).toBeLessThanOrEqual(CAP);
      expect((await readRecords(out)).map(VOLATILE_FLEET)).toEqual(await readRecords(join(dir, "local.jsonl")));
      const byWorker = (await readJson(join(dir, "caps.summary.json"))).fleet.byWorker as Record<string, unknown>;
      expect(Object.keys(byWorker).length).toBeGreaterThan(1);
    } finally {
      await target.close();
    }
  }, 240_000);

  it("a driver killed with -9 and resumed writes complete files with no duplicates", async () => {
    const url = await freshDatabase(adminUrl, "codeclm_fleet_driver");
    const out = join(dir, "driver.jsonl");
    const workers = [worker(url, "w1"), worker(url, "w2")];
    const first = startCli(args(out, "--engine", "dbos", "--checkpoint", url), env());
    await waitFor(
      async () => (await workflows(url, "w1")).SUCCESS! + (await workflows(url, "w2")).SUCCESS! >= 6,
      60_000,
      "some instructions done",
    );
    first.child.kill("SIGKILL");
    await first.done;
    const resumed = await runCli(args(out, "--engine", "dbos", "--checkpoint", url, "--resume"), env());
    expect(resumed.code, resumed.stderr).toBe(0);
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.done));
    expect((await readRecords(out)).map(VOLATILE_FLEET)).toEqual(await readRecords(join(dir, "local.jsonl")));
    expect((await readRecords(join(dir, "driver.dropped.jsonl"))).map(VOLATILE_FLEET)).toEqual(
      await readRecords(join(dir, "local.dropped.jsonl")),
    );
  }, 240_000);
});
