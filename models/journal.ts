/**
 * The call journal: one row per model request a run makes, kept beside the checkpoints (same SQLite
 * file, or same Postgres database). Answered calls keep their answer, keyed by a digest of everything
 * that defines the call, so a resumed run replays a call that already finished instead of paying for it
 * again; faults are kept as counts. The rows also make the run's spending durable, so budgets hold
 * across resumes.
 */
import type Database from "better-sqlite3";
import type { Pool } from "pg";
import { type AccountsData, type CallGroup, emptyGroup } from "../lib/accounts.js";
import type { FaultKind } from "../lib/faults.js";
import type { Transport } from "../lib/prices.js";
import { ensureSchema } from "./pg-schema.js";
import { randomUUID } from "node:crypto";

/**
 * How long a claim on a shared call (PostgresCallJournal.claim) holds without renewal (s). Its process
 * renews it every third of that while the call runs, so a process that dies frees it this soon.
 */
const CLAIM_TTL_SECONDS = 30;

export interface CallIdentity {
  role: string;
  step: string;
  model: string;
}

/** What an answered call returned: text, a structured value, or what was wrong with the reply. */
export interface StoredAnswer {
  text?: string;
  value?: unknown;
  problem?: string;
}

export interface AnswerRow extends CallIdentity {
  key: string;
  answer: StoredAnswer;
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
  latencyMs: number;
  /** Absent: a single request. */
  transport?: Transport;
}

/**
 * A batch the run submitted to a provider's Batch API: recorded as soon as the provider accepted it, so a
 * resumed run polls it instead of submitting its calls again. `customIds` are the call keys of its lines.
 */
export interface BatchRow {
  batchId: string;
  /** Where it was submitted: base URL, endpoint path and model (never a key). */
  target: string;
  customIds: string[];
}

export interface FaultRow extends CallIdentity {
  kind: FaultKind;
  status?: number;
}

/** The run's call accounts as the journal restores them on resume (paid calls and faults; see lib/accounts.ts). */
export type JournalTotals = AccountsData;

/** What a run was started with: checked when it is resumed. */
export interface RunRecord {
  fingerprint: string;
  settings: Record<string, unknown>;
}

export interface CallJournal {
  readonly threadId: string;
  /** The run's fingerprint and settings, as first recorded. */
  run(): Promise<RunRecord | undefined>;
  /** Record them once (later calls keep the first record). */
  recordRun(run: RunRecord): Promise<void>;
  /** Totals so far, and what can be replayed. */
  load(): Promise<JournalTotals>;
  /** A finished call with this key, if the thread has one. */
  find(key: string): Promise<AnswerRow | undefined>;
  /** Store an answered call; resolves once it is stored (the answer is used only then). */
  answer(row: AnswerRow): Promise<void> | void;
  fault(row: FaultRow): void;
  /** Record a submitted batch; resolves once it is stored. */
  recordBatch(row: BatchRow): Promise<void>;
  /** The batches the run submitted, in every session. */
  batches(): Promise<BatchRow[]>;
  /** Wait until every row is stored; throws if storing failed. */
  flush(): Promise<void>;
  deleteThread(): Promise<void>;
  /**
   * Where several processes write the thread (a fleet's workers): claim the right to make the call with
   * this key. Resolves with the claim's release, or undefined while another process holds it (its answer
   * will be in the journal). Absent where one process writes the thread.
   */
  claim?(key: string): Promise<(() => Promise<void>) | undefined>;
}

interface RawGroup {
  kind: string;
  fault_kind: string | null;
  role: string | null;
  step: string | null;
  model: string | null;
  n: number | string;
  input_tokens: number | string | null;
  output_tokens: number | string | null;
  cost_usd: number | string | null;
  priced: number | string | null;
  transport: string | null;
}

function totalsFrom(rows: RawGroup[]): JournalTotals {
  const groups: CallGroup[] = [];
  const faults: Partial<Record<FaultKind, number>> = {};
  const byIdentity = new Map<string, CallGroup>();
  for (const row of rows) {
    const count = Number(row.n);
    if (row.kind === "fault") {
      const kind = row.fault_kind as FaultKind;
      faults[kind] = (faults[kind] ?? 0) + count;
      continue;
    }
    const identity = { role: row.role ?? "", step: row.step ?? "", model: row.model ?? "" };
    const id = `${identity.role}|${identity.step}|${identity.model}`;
    let group = byIdentity.get(id);
    if (!group) {
      group = emptyGroup(identity);
      byIdentity.set(id, group);
      groups.push(group);
    }
    group.calls += count;
    if (row.kind === "malformed") group.malformed += count;
    group.inputTokens += Number(row.input_tokens ?? 0);
    group.outputTokens += Number(row.output_tokens ?? 0);
    group.costUsd += Number(row.cost_usd ?? 0);
    // Every row of the group had a cost (a model without a price stores none).
    group.priced &&= Number(row.priced ?? 0) === count;
    if (row.transport === "batch") {
      group.batchCalls += count;
      group.batchCostUsd += Number(row.cost_usd ?? 0);
    }
  }
  return { groups, faults };
}

const GROUP_SQL = (param: (n: number) => string) => `
  SELECT kind, fault_kind, role, step, model, transport, COUNT(*) AS n, SUM(input_tokens) AS input_tokens,
         SUM(output_tokens) AS output_tokens, SUM(cost_usd) AS cost_usd, COUNT(cost_usd) AS priced
  FROM codeclm_calls WHERE thread_id = ${param(1)}
  GROUP BY kind, fault_kind, role, step, model, transport`;

/** Tables added after the first release: created, or the column added, on open. */
const BATCH_TABLE = `CREATE TABLE IF NOT EXISTS codeclm_batches (
  thread_id TEXT NOT NULL, batch_id TEXT NOT NULL, target TEXT NOT NULL, custom_ids TEXT NOT NULL,
  PRIMARY KEY (thread_id, batch_id));`;

const batchRowOf = (row: { batch_id: string; target: string; custom_ids: string }): BatchRow => ({
  batchId: row.batch_id,
  target: row.target,
  customIds: JSON.parse(row.custom_ids) as string[],
});

const answerKind = (row: AnswerRow) => (row.answer.problem !== undefined ? "malformed" : "answer");

/** One journal row, in the column order both stores use. */
type JournalRow = [
  string,
  string | null,
  string,
  string | null,
  string,
  string,
  string,
  number | null,
  number | null,
  number | null,
  number | null,
  string | null,
  string | null,
];

/** An answered call as a journal row. */
function answerValues(threadId: string, row: AnswerRow): JournalRow {
  return [
    threadId,
    row.key,
    answerKind(row),
    null,
    row.role,
    row.step,
    row.model,
    row.inputTokens,
    row.outputTokens,
    row.costUsd,
    Math.round(row.latencyMs),
    JSON.stringify(row.answer),
    row.transport === "batch" ? "batch" : null,
  ];
}

/** A journal row as both stores return it (column names as in the table). */
interface StoredRow {
  role: string;
  step: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
  latency_ms: number;
  payload: string;
}

function answerRowOf(key: string, row: StoredRow): AnswerRow {
  return {
    key,
    role: row.role,
    step: row.step,
    model: row.model,
    answer: JSON.parse(row.payload) as StoredAnswer,
    inputTokens: row.input_tokens,
    outputTokens: row.output_tokens,
    costUsd: row.cost_usd,
    latencyMs: row.latency_ms,
  };
}

/**
 * The journal in the run's SQLite file, on the checkpointer's own connection (WAL, synchronous=NORMAL).
 * Each answered call is stored before its answer is used: after a kill -9 only the calls in flight are paid again.
 */
export class SqliteCallJournal implements CallJournal {
  private keys = new Set<string>();
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;
  private readonly insertAll: (rows: JournalRow[]) => void;
  private pending: Array<{ row: JournalRow; done?: { resolve: () => void; reject: (error: unknown) => void } }> = [];
  private scheduled = false;
  private failure: unknown;

  constructor(
    private readonly db: Database.Database,
    readonly threadId: string,
  ) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS codeclm_calls (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        thread_id TEXT NOT NULL,
        call_key TEXT,
        kind TEXT NOT NULL,
        fault_kind TEXT,
        role TEXT, step TEXT, model TEXT,
        input_tokens INTEGER, output_tokens INTEGER, cost_usd REAL, latency_ms INTEGER,
        payload TEXT, transport TEXT
      );
      CREATE INDEX IF NOT EXISTS codeclm_calls_key ON codeclm_calls (thread_id, call_key);
      CREATE TABLE IF NOT EXISTS codeclm_runs (thread_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, settings TEXT NOT NULL);
      ${BATCH_TABLE}`);
    const columns = db.prepare(`PRAGMA table_info(codeclm_calls)`).all() as Array<{ name: string }>;
    if (!columns.some((column) => column.name === "transport"))
      db.exec(`ALTER TABLE codeclm_calls ADD COLUMN transport TEXT`);
    this.insert = db.prepare(
      `INSERT INTO codeclm_calls (thread_id, call_key, kind, fault_kind, role, step, model, input_tokens, output_tokens, cost_usd, latency_ms, payload, transport)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.select = db.prepare(
      `SELECT role, step, model, input_tokens, output_tokens, cost_usd, latency_ms, payload FROM codeclm_calls
       WHERE thread_id = ? AND call_key = ? ORDER BY seq LIMIT 1`,
    );
    this.insertAll = db.transaction((rows: JournalRow[]) => {
      for (const row of rows) this.insert.run(...row);
    });
  }

  /**
   * The rows of one turn of the event loop are stored in one transaction: one commit for all the calls that
   * finished together, not one each (at concurrency 128 the per-row commits were the journal's whole cost).
   * An answer is still used only once its row is stored (`answer` resolves then).
   */
  private enqueue(row: JournalRow, wait: boolean): Promise<void> | void {
    if (this.failure) throw this.failure;
    const promise = wait
      ? new Promise<void>((resolve, reject) => this.pending.push({ row, done: { resolve, reject } }))
      : undefined;
    if (!wait) this.pending.push({ row });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.write());
    }
    return promise;
  }

  private write(): void {
    this.scheduled = false;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    try {
      this.insertAll(batch.map((item) => item.row));
      for (const item of batch) item.done?.resolve();
    } catch (error) {
      this.failure ??= error;
      for (const item of batch) item.done?.reject(error);
    }
  }

  async run(): Promise<RunRecord | undefined> {
    const row = this.db
      .prepare(`SELECT fingerprint, settings FROM codeclm_runs WHERE thread_id = ?`)
      .get(this.threadId) as { fingerprint: string; settings: string } | undefined;
    return row
      ? { fingerprint: row.fingerprint, settings: JSON.parse(row.settings) as Record<string, unknown> }
      : undefined;
  }

  async recordRun(run: RunRecord): Promise<void> {
    this.db
      .prepare(`INSERT OR IGNORE INTO codeclm_runs (thread_id, fingerprint, settings) VALUES (?, ?, ?)`)
      .run(this.threadId, run.fingerprint, JSON.stringify(run.settings));
  }

  async load(): Promise<JournalTotals> {
    this.write();
    const keys = this.db
      .prepare(`SELECT call_key FROM codeclm_calls WHERE thread_id = ? AND call_key IS NOT NULL`)
      .pluck()
      .all(this.threadId) as string[];
    this.keys = new Set(keys);
    return totalsFrom(this.db.prepare(GROUP_SQL(() => "?")).all(this.threadId) as RawGroup[]);
  }

  async find(key: string): Promise<AnswerRow | undefined> {
    if (!this.keys.has(key)) return undefined;
    const row = this.select.get(this.threadId, key) as StoredRow | undefined;
    if (!row) return undefined;
    return answerRowOf(key, row);
  }

  answer(row: AnswerRow): Promise<void> | void {
    return this.enqueue(answerValues(this.threadId, row), true);
  }

  fault(row: FaultRow): void {
    void this.enqueue(
      [this.threadId, null, "fault", row.kind, row.role, row.step, row.model, null, null, null, null, null, null],
      false,
    );
  }

  async recordBatch(row: BatchRow): Promise<void> {
    this.db
      .prepare(`INSERT OR IGNORE INTO codeclm_batches (thread_id, batch_id, target, custom_ids) VALUES (?, ?, ?, ?)`)
      .run(this.threadId, row.batchId, row.target, JSON.stringify(row.customIds));
  }

  async batches(): Promise<BatchRow[]> {
    const rows = this.db
      .prepare(`SELECT batch_id, target, custom_ids FROM codeclm_batches WHERE thread_id = ? ORDER BY rowid`)
      .all(this.threadId) as Array<{ batch_id: string; target: string; custom_ids: string }>;
    return rows.map(batchRowOf);
  }

  async flush(): Promise<void> {
    this.write();
    if (this.failure) throw this.failure;
  }

  async deleteThread(): Promise<void> {
    await this.flush();
    this.db.prepare(`DELETE FROM codeclm_calls WHERE thread_id = ?`).run(this.threadId);
    this.db.prepare(`DELETE FROM codeclm_runs WHERE thread_id = ?`).run(this.threadId);
    this.db.prepare(`DELETE FROM codeclm_batches WHERE thread_id = ?`).run(this.threadId);
  }
}

/**
 * The journal in Postgres. Rows are inserted in batches (all rows that arrive while the previous insert is
 * under way), and each answered call waits for its batch to be committed before its answer is used.
 */
export class PostgresCallJournal implements CallJournal {
  private keys = new Set<string>();
  private pending: Array<{ row: JournalRow; done?: { resolve: () => void; reject: (error: unknown) => void } }> = [];
  private writing: Promise<void> | undefined;
  private failure: unknown;

  private constructor(
    private readonly pool: Pool,
    readonly threadId: string,
    /** Other processes write this thread too (a fleet's workers): look every key up, not only those loaded. */
    private readonly shared = false,
  ) {}

  static async open(
    pool: Pool,
    threadId: string,
    options: { shared?: boolean; claimTtlSeconds?: number } = {},
  ): Promise<PostgresCallJournal> {
    await ensureSchema(
      pool,
      `
      CREATE TABLE IF NOT EXISTS codeclm_calls (
        seq BIGSERIAL PRIMARY KEY,
        thread_id TEXT NOT NULL,
        call_key TEXT,
        kind TEXT NOT NULL,
        fault_kind TEXT,
        role TEXT, step TEXT, model TEXT,
        input_tokens INTEGER, output_tokens INTEGER, cost_usd DOUBLE PRECISION, latency_ms INTEGER,
        payload TEXT
      );
      ALTER TABLE codeclm_calls ADD COLUMN IF NOT EXISTS transport TEXT;
      CREATE INDEX IF NOT EXISTS codeclm_calls_key ON codeclm_calls (thread_id, call_key);
      CREATE TABLE IF NOT EXISTS codeclm_runs (thread_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, settings TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS codeclm_call_claims (
        thread_id TEXT NOT NULL, call_key TEXT NOT NULL, holder TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (thread_id, call_key));
      ${BATCH_TABLE}`,
    );
    const journal = new PostgresCallJournal(pool, threadId, options.shared ?? false);
    if (options.shared) journal.claim = (key) => journal.claimKey(key, options.claimTtlSeconds ?? CLAIM_TTL_SECONDS);
    return journal;
  }

  claim?: (key: string) => Promise<(() => Promise<void>) | undefined>;
  private readonly holder = randomUUID();

  /**
   * A claim is a row held until released, renewed meanwhile; a process that died with a claim leaves it to
   * expire after its TTL, and the next claimer then makes the call.
   */
  private async claimKey(key: string, ttlSeconds: number): Promise<(() => Promise<void>) | undefined> {
    const result = await this.pool.query(
      `INSERT INTO codeclm_call_claims (thread_id, call_key, holder, expires_at)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4))
       ON CONFLICT (thread_id, call_key) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE codeclm_call_claims.expires_at < now()
       RETURNING holder`,
      [this.threadId, key, this.holder, ttlSeconds],
    );
    if (result.rows.length === 0) return undefined;
    const renewer = setInterval(
      () =>
        void this.pool
          .query(
            `UPDATE codeclm_call_claims SET expires_at = now() + make_interval(secs => $4)
             WHERE thread_id = $1 AND call_key = $2 AND holder = $3`,
            [this.threadId, key, this.holder, ttlSeconds],
          )
          .catch(() => {}), // a missed renewal: the next one, or the claim expires and another process makes the call
      (ttlSeconds * 1000) / 3,
    );
    renewer.unref();
    return async () => {
      clearInterval(renewer);
      await this.pool.query(`DELETE FROM codeclm_call_claims WHERE thread_id = $1 AND call_key = $2 AND holder = $3`, [
        this.threadId,
        key,
        this.holder,
      ]);
    };
  }

  async run(): Promise<RunRecord | undefined> {
    const result = await this.pool.query<{ fingerprint: string; settings: string }>(
      `SELECT fingerprint, settings FROM codeclm_runs WHERE thread_id = $1`,
      [this.threadId],
    );
    const row = result.rows[0];
    return row
      ? { fingerprint: row.fingerprint, settings: JSON.parse(row.settings) as Record<string, unknown> }
      : undefined;
  }

  async recordRun(run: RunRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO codeclm_runs (thread_id, fingerprint, settings) VALUES ($1, $2, $3) ON CONFLICT (thread_id) DO NOTHING`,
      [this.threadId, run.fingerprint, JSON.stringify(run.settings)],
    );
  }

  async load(): Promise<JournalTotals> {
    const keys = await this.pool.query<{ call_key: string }>(
      `SELECT call_key FROM codeclm_calls WHERE thread_id = $1 AND call_key IS NOT NULL`,
      [this.threadId],
    );
    this.keys = new Set(keys.rows.map((row) => row.call_key));
    const groups = await this.pool.query<RawGroup>(
      GROUP_SQL((n) => `$${n}`),
      [this.threadId],
    );
    return totalsFrom(groups.rows);
  }

  async find(key: string): Promise<AnswerRow | undefined> {
    if (!this.shared && !this.keys.has(key)) return undefined;
    const result = await this.pool.query<StoredRow>(
      `SELECT role, step, model, input_tokens, output_tokens, cost_usd, latency_ms, payload FROM codeclm_calls
       WHERE thread_id = $1 AND call_key = $2 ORDER BY seq LIMIT 1`,
      [this.threadId, key],
    );
    const row = result.rows[0];
    if (!row) return undefined;
    return answerRowOf(key, row);
  }

  private enqueue(row: JournalRow, wait: boolean): Promise<void> | void {
    if (this.failure) throw this.failure;
    const promise = wait
      ? new Promise<void>((resolve, reject) => this.pending.push({ row, done: { resolve, reject } }))
      : undefined;
    if (!wait) this.pending.push({ row });
    this.writing ??= this.write();
    return promise;
  }

  private async write(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, 200);
      const values = batch.map((_, i) => `(${Array.from({ length: 13 }, (__, j) => `$${i * 13 + j + 1}`).join(", ")})`);
      try {
        await this.pool.query(
          `INSERT INTO codeclm_calls (thread_id, call_key, kind, fault_kind, role, step, model, input_tokens, output_tokens, cost_usd, latency_ms, payload, transport)
           VALUES ${values.join(", ")}`,
          batch.flatMap((item) => item.row),
        );
        for (const item of batch) item.done?.resolve();
      } catch (error) {
        this.failure ??= error;
        for (const item of [...batch, ...this.pending.splice(0)]) item.done?.reject(error);
      }
    }
    this.writing = undefined;
  }

  answer(row: AnswerRow): Promise<void> | void {
    return this.enqueue(answerValues(this.threadId, row), true);
  }

  fault(row: FaultRow): void {
    void this.enqueue(
      [this.threadId, null, "fault", row.kind, row.role, row.step, row.model, null, null, null, null, null, null],
      false,
    );
  }

  async recordBatch(row: BatchRow): Promise<void> {
    await this.pool.query(
      `INSERT INTO codeclm_batches (thread_id, batch_id, target, custom_ids) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [this.threadId, row.batchId, row.target, JSON.stringify(row.customIds)],
    );
  }

  async batches(): Promise<BatchRow[]> {
    const result = await this.pool.query<{ batch_id: string; target: string; custom_ids: string }>(
      `SELECT batch_id, target, custom_ids FROM codeclm_batches WHERE thread_id = $1 ORDER BY ctid`,
      [this.threadId],
    );
    return result.rows.map(batchRowOf);
  }

  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.failure) throw this.failure;
  }

  async deleteThread(): Promise<void> {
    await this.flush();
    await this.pool.query(`DELETE FROM codeclm_calls WHERE thread_id = $1`, [this.threadId]);
    await this.pool.query(`DELETE FROM codeclm_runs WHERE thread_id = $1`, [this.threadId]);
    await this.pool.query(`DELETE FROM codeclm_batches WHERE thread_id = $1`, [this.threadId]);
    await this.pool.query(`DELETE FROM codeclm_call_claims WHERE thread_id = $1`, [this.threadId]);
  }
}
