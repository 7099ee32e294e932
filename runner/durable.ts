/**
 * Where a run keeps its state so it can be resumed: LangGraph checkpoints plus the call journal, in one
 * SQLite file (the default, beside the output) or one Postgres database (`--checkpoint postgres://…`),
 * or nowhere (`--checkpoint none`: no resume).
 */
import { rm } from "node:fs/promises";
import type { BaseCheckpointSaver } from "@langchain/langgraph";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { SqliteSaver } from "@langchain/langgraph-checkpoint-sqlite";
import Database from "better-sqlite3";
import pg from "pg";
import { redactSecrets } from "../lib/redact.js";
import { type CallJournal, PostgresCallJournal, SqliteCallJournal } from "../models/journal.js";
import { RerunUnstartedTasks } from "./saver.js";
import { type CheckpointSpec, describeCheckpoint, parseCheckpointSpec } from "./checkpoint-spec.js";
import { CheckpointStoreError } from "./errors.js";

export { type CheckpointSpec, parseCheckpointSpec, describeCheckpoint, CheckpointStoreError };

export interface Durable {
  readonly spec: CheckpointSpec;
  readonly saver?: BaseCheckpointSaver;
  /** The call journal of one run (thread). */
  journal(threadId: string): Promise<CallJournal | undefined>;
  /**
   * Remove a run's checkpoints and journal. With `dropFile`, a SQLite file that holds no other run is
   * closed and deleted instead of emptied row by row (the same end, without a delete per row).
   */
  forget(threadId: string, options?: { dropFile?: boolean }): Promise<void>;
  /** Close; with `removeIfEmpty`, a SQLite file left holding no run is deleted. */
  close(options?: { removeIfEmpty?: boolean }): Promise<void>;
}

export async function openDurable(spec: CheckpointSpec): Promise<Durable> {
  if (spec.kind === "none")
    return { spec, journal: async () => undefined, forget: async () => {}, close: async () => {} };
  return spec.kind === "sqlite" ? openSqlite(spec) : openPostgres(spec);
}

function openSqliteFile(path: string): Database.Database {
  try {
    return new Database(path);
  } catch (error) {
    throw new CheckpointStoreError(`cannot open the checkpoint file ${path}: ${(error as Error).message}`);
  }
}

/** Rows left in the file's tables (checkpoints, their writes, the journal); a missing table holds none. */
function rowsLeft(db: Database.Database): number {
  const rows = (table: string) => {
    try {
      return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    } catch {
      return 0; // no such table
    }
  };
  return rows("checkpoints") + rows("writes") + rows("codeclm_calls");
}

/**
 * Whether every row in the file belongs to `threadId`: each table's lowest and highest `thread_id` (the
 * first column of every table's key, so two index lookups each), and no table without one holds a row.
 */
function holdsOnly(db: Database.Database, threadId: string): boolean {
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all();
  return (tables as Array<{ name: string }>).every(({ name }) => {
    const columns = db.prepare(`PRAGMA table_info("${name}")`).all() as Array<{ name: string }>;
    if (!columns.some((column) => column.name === "thread_id"))
      return db.prepare(`SELECT 1 FROM "${name}" LIMIT 1`).get() === undefined;
    const range = db.prepare(`SELECT MIN(thread_id) AS low, MAX(thread_id) AS high FROM "${name}"`).get() as {
      low: string | null;
      high: string | null;
    };
    return (range.low === null || range.low === threadId) && (range.high === null || range.high === threadId);
  });
}

function openSqlite(spec: { kind: "sqlite"; path: string }): Durable {
  const db = openSqliteFile(spec.path);
  // WAL without a sync per commit: survives a crash or kill -9 of the process; a power cut may lose
  // the last moments (calls then paid again on resume). One fsync per call would cost more than the call.
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  const saver = new RerunUnstartedTasks(new SqliteSaver(db));
  new SqliteCallJournal(db, ""); // creates the journal table, so the file always has every table
  const removeFile = async () => {
    for (const suffix of ["", "-wal", "-shm"]) await rm(`${spec.path}${suffix}`, { force: true });
  };
  return {
    spec,
    saver,
    journal: async (threadId) => new SqliteCallJournal(db, threadId),
    forget: async (threadId, options) => {
      if (options?.dropFile && holdsOnly(db, threadId)) {
        db.close();
        await removeFile();
        return;
      }
      await saver.deleteThread(threadId);
      await new SqliteCallJournal(db, threadId).deleteThread();
    },
    close: async (options) => {
      if (!db.open) return;
      const empty = rowsLeft(db) === 0;
      db.close();
      if (options?.removeIfEmpty && empty) await removeFile();
    },
  };
}

async function openPostgres(spec: { kind: "postgres"; url: string }): Promise<Durable> {
  const pool = new pg.Pool({ connectionString: spec.url, max: 8 });
  // An idle client losing its connection must not crash the process.
  pool.on("error", () => {});
  const postgres = new PostgresSaver(pool);
  const saver = new RerunUnstartedTasks(postgres);
  try {
    await postgres.setup();
  } catch (error) {
    await pool.end().catch(() => {});
    throw new CheckpointStoreError(
      `cannot use the Postgres checkpoint store ${describeCheckpoint(spec)}: ${redactSecrets((error as Error).message)}`,
    );
  }
  return {
    spec,
    saver,
    journal: (threadId) => PostgresCallJournal.open(pool, threadId),
    forget: async (threadId) => {
      await saver.deleteThread(threadId);
      await (await PostgresCallJournal.open(pool, threadId)).deleteThread();
    },
    close: async () => {
      await pool.end();
    },
  };
}
