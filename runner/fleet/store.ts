/**
 * What the driver and the workers of a fleet share in Postgres besides DBOS's own tables: each run's
 * settings (the models and every data-shaping setting come from the run, never from a worker), and one
 * row per worker (last seen, instructions in flight, calls made) for the driver's progress line.
 */
import pg from "pg";
import type { CodecConfig } from "../../lib/config.js";
import { redactSecrets } from "../../lib/redact.js";
import { ensureSchema } from "../../models/pg-schema.js";

/** DBOS's application name, queue and workflow: the driver enqueues by name, the workers implement it. */
export const FLEET = {
  app: "codeclm",
  queue: "codeclm-instructions",
  workflow: "codeclm-instruction",
  /** Fixed, so a worker dequeues what a driver (a DBOS client, which registers no code) enqueued. */
  version: "codeclm-fleet-1",
} as const;

/** One instruction of one run: re-sending it (a resumed driver) finds the same workflow and creates nothing. */
export const workflowIdOf = (runId: string, taskId: string) => `${runId}:${taskId}`;

export interface WorkflowInput {
  runId: string;
  task: unknown;
}

export interface WorkerRow {
  workerId: string;
  /** Seconds since the worker last reported. */
  ageSeconds: number;
  inFlight: number;
  calls: number;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS codeclm_fleet_runs (
    run_id TEXT PRIMARY KEY, settings TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
  CREATE TABLE IF NOT EXISTS codeclm_fleet_workers (
    worker_id TEXT PRIMARY KEY, seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    in_flight INTEGER NOT NULL DEFAULT 0, calls BIGINT NOT NULL DEFAULT 0);`;

export class FleetStore {
  private constructor(readonly pool: pg.Pool) {}

  static async open(url: string, max = 4): Promise<FleetStore> {
    const pool = new pg.Pool({ connectionString: url, max });
    pool.on("error", () => {});
    try {
      await ensureSchema(pool, SCHEMA);
    } catch (error) {
      await pool.end().catch(() => {});
      throw new Error(`cannot use the fleet's Postgres database: ${redactSecrets((error as Error).message)}`);
    }
    return new FleetStore(pool);
  }

  /** The driver records the run's settings before its first instruction is enqueued (a resume replaces them). */
  async putSettings(runId: string, config: CodecConfig): Promise<void> {
    await this.pool.query(
      `INSERT INTO codeclm_fleet_runs (run_id, settings) VALUES ($1, $2)
       ON CONFLICT (run_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()`,
      [runId, JSON.stringify(config)],
    );
  }

  async settings(runId: string): Promise<CodecConfig> {
    const result = await this.pool.query<{ settings: string }>(
      "SELECT settings FROM codeclm_fleet_runs WHERE run_id = $1",
      [runId],
    );
    const row = result.rows[0];
    if (!row) throw new Error(`run ${runId} has no settings in the fleet's database (was it started by a driver?)`);
    return JSON.parse(row.settings) as CodecConfig;
  }

  async forgetRun(runId: string): Promise<void> {
    await this.pool.query("DELETE FROM codeclm_fleet_runs WHERE run_id = $1", [runId]);
  }

  async report(workerId: string, inFlight: number, calls: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO codeclm_fleet_workers (worker_id, in_flight, calls) VALUES ($1, $2, $3)
       ON CONFLICT (worker_id) DO UPDATE SET seen_at = now(), in_flight = $2, calls = $3`,
      [workerId, inFlight, calls],
    );
  }

  async workers(): Promise<WorkerRow[]> {
    const result = await this.pool.query<{ worker_id: string; age: string; in_flight: number; calls: string }>(
      `SELECT worker_id, EXTRACT(EPOCH FROM now() - seen_at) AS age, in_flight, calls
       FROM codeclm_fleet_workers ORDER BY worker_id`,
    );
    return result.rows.map((row) => ({
      workerId: row.worker_id,
      ageSeconds: Number(row.age),
      inFlight: row.in_flight,
      calls: Number(row.calls),
    }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
