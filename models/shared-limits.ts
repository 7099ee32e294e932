/**
 * Per-endpoint limits for several processes (a fleet's workers): an endpoint capped at C calls in flight
 * has C slot rows per run in Postgres, and a call takes one (a conditional UPDATE with SKIP LOCKED, like a
 * queue) after its own process's scheduler slot, so each process's adaptive limiter and circuit breaker
 * stay the fast inner loop and the fleet as a whole never has more than C calls at that endpoint. A slot
 * is held under a lease that its process renews; a process that dies leaves its slots to expire (TTL).
 * Only the head waiter of each endpoint polls, so a blocked process costs a few queries a second.
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { Pool } from "pg";
import { ensureSchema } from "./pg-schema.js";

export interface SharedLimits {
  /**
   * Take a fleet-wide slot at `endpoint` (waits while the fleet is at its cap); resolves with its release.
   * Endpoints without a fleet cap resolve at once.
   */
  acquire(endpoint: string, signal?: AbortSignal): Promise<() => void>;
}

const TABLE = `CREATE TABLE IF NOT EXISTS codeclm_endpoint_slots (
  run_id TEXT NOT NULL, endpoint TEXT NOT NULL, slot INT NOT NULL, holder TEXT, expires_at TIMESTAMPTZ,
  PRIMARY KEY (run_id, endpoint, slot))`;

/**
 * An endpoint on a loopback address or an in-process model is each machine's own: keyed with the host
 * name, so workers on several machines do not share a cap meant for one GPU server each.
 */
export function fleetEndpointKey(endpoint: string): string {
  const [provider, base] = endpoint.split("|");
  const own = provider === "local" || /\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:|\/|$)/i.test(base ?? "");
  return own ? `${endpoint}|host:${hostname()}` : endpoint;
}

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
}

export interface PostgresLimitsOptions {
  /** How long a slot is held without renewal (s): a dead process's slots are free after this. */
  ttlSeconds?: number;
  /** How often the head waiter of a capped endpoint asks again (ms). */
  pollMs?: number;
}

export class PostgresLimits implements SharedLimits {
  /** The table and this run's slot rows; opened again by the next call if it failed (a passing database fault). */
  private opened: Promise<void> | undefined;
  /** This process's lease holder: a restarted process never renews its predecessor's slots. */
  private readonly holder = `${hostname()}:${process.pid}:${randomUUID()}`;
  private readonly queues = new Map<string, Waiter[]>();
  private readonly busy = new Set<string>();
  private held = 0;
  private renewer: NodeJS.Timeout | undefined;
  private readonly ttl: number;
  private readonly pollMs: number;

  /** `caps`: the fleet's most calls in flight by endpoint (models/factory.ts `endpoint(role)`). */
  constructor(
    private readonly pool: Pool,
    private readonly runId: string,
    private readonly caps: ReadonlyMap<string, number>,
    options: PostgresLimitsOptions = {},
  ) {
    this.ttl = options.ttlSeconds ?? 60;
    this.pollMs = options.pollMs ?? 20;
    void this.ready().catch(() => {});
  }

  private ready(): Promise<void> {
    this.opened ??= this.open().catch((error: unknown) => {
      this.opened = undefined;
      throw error;
    });
    return this.opened;
  }

  private async open(): Promise<void> {
    await ensureSchema(this.pool, TABLE);
    for (const [endpoint, cap] of this.caps)
      await this.pool.query(
        `INSERT INTO codeclm_endpoint_slots (run_id, endpoint, slot)
         SELECT $1, $2, s FROM generate_series(0, $3::int - 1) s ON CONFLICT DO NOTHING`,
        [this.runId, fleetEndpointKey(endpoint), cap],
      );
  }

  acquire(endpoint: string, signal?: AbortSignal): Promise<() => void> {
    if (!this.caps.has(endpoint)) return Promise.resolve(() => {});
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(endpoint) ?? [];
      this.queues.set(endpoint, queue);
      queue.push({ resolve, reject, ...(signal ? { signal } : {}) });
      void this.pump(endpoint);
    });
  }

  /** Hand free slots to this endpoint's waiters, in order, until none is free or none waits. */
  private async pump(endpoint: string): Promise<void> {
    if (this.busy.has(endpoint)) return;
    this.busy.add(endpoint);
    const queue = this.queues.get(endpoint)!;
    try {
      await this.ready();
      while (queue.length > 0) {
        const head = queue[0]!;
        if (head.signal?.aborted) {
          queue.shift();
          head.reject(head.signal.reason ?? new Error("aborted"));
          continue;
        }
        const slot = await this.take(endpoint);
        if (slot === undefined) {
          await new Promise((resolve) => setTimeout(resolve, this.pollMs));
          continue;
        }
        queue.shift();
        this.hold();
        head.resolve(this.releaser(endpoint, slot));
      }
    } catch (error) {
      for (const waiter of queue.splice(0)) waiter.reject(error);
    } finally {
      this.busy.delete(endpoint);
    }
  }

  private async take(endpoint: string): Promise<number | undefined> {
    const result = await this.pool.query<{ slot: number }>(
      `UPDATE codeclm_endpoint_slots SET holder = $4, expires_at = now() + make_interval(secs => $5)
       WHERE (run_id, endpoint, slot) = (
         SELECT run_id, endpoint, slot FROM codeclm_endpoint_slots
         WHERE run_id = $1 AND endpoint = $2 AND slot < $3 AND (holder IS NULL OR expires_at < now())
         ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING slot`,
      [this.runId, fleetEndpointKey(endpoint), this.caps.get(endpoint), this.holder, this.ttl],
    );
    return result.rows[0]?.slot;
  }

  private releaser(endpoint: string, slot: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.pool
        .query(
          "UPDATE codeclm_endpoint_slots SET holder = NULL, expires_at = NULL WHERE run_id = $1 AND endpoint = $2 AND slot = $3 AND holder = $4",
          [this.runId, fleetEndpointKey(endpoint), slot, this.holder],
        )
        .catch(() => {}) // a lost release only holds the slot until its lease expires
        .finally(() => {
          this.unhold();
          if ((this.queues.get(endpoint)?.length ?? 0) > 0) void this.pump(endpoint);
        });
    };
  }

  /** Slots held longer than a third of the TTL are renewed while this process holds any. */
  private hold(): void {
    this.held++;
    this.renewer ??= setInterval(
      () =>
        void this.pool
          .query(
            "UPDATE codeclm_endpoint_slots SET expires_at = now() + make_interval(secs => $3) WHERE run_id = $1 AND holder = $2",
            [this.runId, this.holder, this.ttl],
          )
          .catch(() => {}),
      (this.ttl * 1000) / 3,
    );
    this.renewer.unref();
  }

  private unhold(): void {
    this.held--;
    if (this.held === 0 && this.renewer) {
      clearInterval(this.renewer);
      this.renewer = undefined;
    }
  }
}
