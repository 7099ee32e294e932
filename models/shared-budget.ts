/**
 * One budget for several processes (a fleet's driver and workers): every call reserves the most it can
 * cost in one Postgres row per run, atomically (a conditional UPDATE), before it starts, and settles to what
 * it really cost. Together with each process's own ledger (the fast inner check), the fleet never crosses
 * --max-calls, --max-tokens or --max-cost. Reservations held by a process that died are given back when
 * the driver starts or resumes (it resets the row to what the call journal says was paid).
 */
import type { Pool } from "pg";
import { type Spend, addSpend, emptySpend } from "../lib/accounts.js";
import { type BudgetLimits, type BudgetStop, budgetBlock } from "../lib/budget.js";
import { ensureSchema } from "./pg-schema.js";

export interface SharedBudget {
  /** Reserve `spend` for the fleet, or say which budget it would cross (nothing reserved then). */
  reserve(spend: Spend): Promise<BudgetStop | undefined>;
  /** The call ended: replace its reservation by what it cost (`paid`), or give it back (no `paid`). */
  end(reserved: Spend, paid?: Spend): void;
  /** Wait for every settle and release to be stored. */
  flush(): Promise<void>;
}

const TABLE = `CREATE TABLE IF NOT EXISTS codeclm_budget (
  run_id TEXT PRIMARY KEY, calls BIGINT NOT NULL DEFAULT 0, tokens BIGINT NOT NULL DEFAULT 0,
  cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0)`;

const tokensOf = (spend: Spend) => spend.inputTokens + spend.outputTokens;

export class PostgresBudget implements SharedBudget {
  /** The table and this run's row; opened again by the next call if it failed (a passing database fault). */
  private opened: Promise<void> | undefined;
  private pending = new Set<Promise<unknown>>();

  /** `paidBefore` (the driver's view from the journal) resets the run's row; absent (a worker), the row is kept. */
  constructor(
    private readonly pool: Pool,
    private readonly runId: string,
    private readonly limits: BudgetLimits,
    private readonly paidBefore?: Spend,
  ) {
    void this.ready().catch(() => {});
  }

  private ready(): Promise<void> {
    this.opened ??= this.open(this.paidBefore).catch((error: unknown) => {
      this.opened = undefined;
      throw error;
    });
    return this.opened;
  }

  private async open(paidBefore: Spend | undefined): Promise<void> {
    await ensureSchema(this.pool, TABLE);
    const paid = paidBefore ?? emptySpend();
    await this.pool.query(
      `INSERT INTO codeclm_budget (run_id, calls, tokens, cost_usd) VALUES ($1, $2, $3, $4)
       ON CONFLICT (run_id) DO ${paidBefore ? "UPDATE SET calls = $2, tokens = $3, cost_usd = $4" : "NOTHING"}`,
      [this.runId, paid.calls, tokensOf(paid), paid.costUsd],
    );
  }

  async reserve(spend: Spend): Promise<BudgetStop | undefined> {
    await this.ready();
    const { maxCalls, maxTokens, maxCostUsd } = this.limits;
    const result = await this.pool.query<{ calls: string; tokens: string; cost_usd: number }>(
      `UPDATE codeclm_budget SET calls = calls + $2, tokens = tokens + $3, cost_usd = cost_usd + $4
       WHERE run_id = $1 AND ($5::bigint IS NULL OR calls + $2 <= $5) AND ($6::bigint IS NULL OR tokens + $3 <= $6)
         AND ($7::float8 IS NULL OR cost_usd + $4 <= $7)
       RETURNING calls`,
      [this.runId, spend.calls, tokensOf(spend), spend.costUsd, maxCalls, maxTokens, maxCostUsd],
    );
    if (result.rowCount) return undefined;
    const row = (
      await this.pool.query<{ calls: string; tokens: string; cost_usd: number }>(
        "SELECT calls, tokens, cost_usd FROM codeclm_budget WHERE run_id = $1",
        [this.runId],
      )
    ).rows[0];
    const committed: Spend = {
      calls: Number(row?.calls ?? 0),
      inputTokens: Number(row?.tokens ?? 0),
      outputTokens: 0,
      costUsd: Number(row?.cost_usd ?? 0),
    };
    const stop = budgetBlock(this.limits, committed, emptySpend(), spend) ?? {
      kind: "calls" as const,
      message: "the fleet's budget is spent",
    };
    return { ...stop, message: `${stop.message.replace(/ \(.*\)$/, "")} across the fleet` };
  }

  end(reserved: Spend, paid?: Spend): void {
    const delta = addSpend(paid ?? emptySpend(), reserved, -1);
    const write = this.pool
      .query(
        "UPDATE codeclm_budget SET calls = calls + $2, tokens = tokens + $3, cost_usd = cost_usd + $4 WHERE run_id = $1",
        [this.runId, delta.calls, tokensOf(delta), delta.costUsd],
      )
      .catch(() => {}) // a lost adjustment only leaves the row high: the fleet stops early, never late
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
  }

  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}
