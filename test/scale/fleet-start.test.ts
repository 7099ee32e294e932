/**
 * What a fleet does at its edges, in process against Postgres: workers that start together on a fresh
 * database all open their tables (`CREATE TABLE IF NOT EXISTS` alone fails for all but one of them), and
 * a driver whose instructions wait with no worker alive says so, and stops waiting when its task is aborted.
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { PostgresCallJournal } from "../../models/journal.js";
import { PostgresBudget } from "../../models/shared-budget.js";
import { PostgresLimits } from "../../models/shared-limits.js";
import { FleetDriver } from "../../runner/fleet/driver.js";
import { FleetStore } from "../../runner/fleet/store.js";
import { RUN_KEY } from "../../nodes/runtime.js";
import type { InstructionTask } from "../../lib/tasks.js";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { freshDatabase, postgresAdminUrl } from "../support/postgres-db.js";
import { skipWithoutPostgres } from "../support/postgres-gate.js";

const skip = await skipWithoutPostgres();
const NO_LIMITS = { maxCalls: null, maxTokens: null, maxCostUsd: null };

describe.skipIf(skip)("a fleet's start on a fresh database", () => {
  it("three processes opening every codeclm table at once all succeed (five fresh databases)", async () => {
    for (let round = 0; round < 5; round++) {
      const url = await freshDatabase(postgresAdminUrl, `codeclm_fleet_start_${round}`);
      const pools = [0, 1, 2].map(() => new pg.Pool({ connectionString: url, max: 4 }));
      try {
        await Promise.all(pools.map((pool) => pool.query("SELECT 1")));
        const opened = await Promise.allSettled(
          pools.flatMap((pool) => [
            FleetStore.open(url).then((store) => store.close()),
            PostgresCallJournal.open(pool, "run"),
            new PostgresBudget(pool, "run", NO_LIMITS).reserve({
              calls: 1,
              inputTokens: 0,
              outputTokens: 0,
              costUsd: 0,
            }),
            new PostgresLimits(pool, "run", new Map([["openai|http://x", 2]]))
              .acquire("openai|http://x")
              .then((release) => release()),
          ]),
        );
        const failures = opened.flatMap((result) => (result.status === "rejected" ? [String(result.reason)] : []));
        expect(failures).toEqual([]);
      } finally {
        await Promise.all(pools.map((pool) => pool.end()));
      }
    }
  }, 60_000);

  it("a call several workers need (one metadata's rubrics) is claimed by one at a time; a dead claimer's claim expires", async () => {
    const url = await freshDatabase(postgresAdminUrl, "codeclm_fleet_claims");
    const pools = [0, 1].map(() => new pg.Pool({ connectionString: url, max: 2 }));
    try {
      const [a, b] = await Promise.all(
        pools.map((pool) => PostgresCallJournal.open(pool, "run", { shared: true, claimTtlSeconds: 1 })),
      );
      const releaseA = await a!.claim!("k1");
      expect(releaseA).toBeDefined();
      expect(await b!.claim!("k1")).toBeUndefined();
      expect(await b!.claim!("k2")).toBeDefined(); // another call is not held up
      await releaseA!();
      const releaseB = await b!.claim!("k1");
      expect(releaseB).toBeDefined();
      // While b holds k1 it renews the claim: past the TTL, it is still b's.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await a!.claim!("k1")).toBeUndefined();
      // b "dies" holding k1 (its renewals stop, its row stays): after the TTL, a takes it over.
      await pools[1]!.end();
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect(await a!.claim!("k1")).toBeDefined();
      // One process (not shared) makes its own calls: no claims.
      expect((await PostgresCallJournal.open(pools[0]!, "solo")).claim).toBeUndefined();
    } finally {
      await Promise.all(pools.map((pool) => pool.end().catch(() => {})));
    }
  });

  it("a driver whose instructions wait with no worker alive says so, and an aborted task stops waiting", async () => {
    const url = await freshDatabase(postgresAdminUrl, "codeclm_fleet_idle");
    const warnings: string[] = [];
    const driver = await FleetDriver.open(url, {
      idleWarnSeconds: 1,
      onWarning: (message) => warnings.push(message),
    });
    try {
      const abort = new AbortController();
      const task = { id: "i1" } as unknown as InstructionTask;
      const runnable = {
        configurable: { thread_id: "idle-run", [RUN_KEY]: { config: { concurrency: 1 } } },
        signal: abort.signal,
      } as unknown as LangGraphRunnableConfig;
      const waiting = driver.executor(task, runnable);
      const settled = waiting.then(
        () => "resolved",
        (error: unknown) => `rejected: ${String(error)}`,
      );
      await expect.poll(() => warnings.length, { timeout: 15_000, interval: 200 }).toBeGreaterThan(0);
      expect(warnings[0]).toMatch(/1 instruction\(s\) wait and no worker has reported .*codeclm worker --checkpoint/);
      abort.abort(new Error("the run was stopped"));
      expect(await settled).toBe("rejected: Error: the run was stopped");
    } finally {
      await driver.close();
    }
  }, 60_000);
});
