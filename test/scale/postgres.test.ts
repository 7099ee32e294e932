/**
 * Checkpoints and the call journal in Postgres: a budget stop, then a resume that finishes the run
 * without paying twice. `.ci/run` starts a throwaway server and sets CODECLM_TEST_POSTGRES_URL; under CI=true, or
 * when that variable is set, a missing or unreachable server fails the test. Elsewhere it skips, saying why
 * (default URL postgres://postgres@127.0.0.1:5432/postgres).
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputPathsFor } from "../../runner/output.js";
import { type RunOptions, runToFiles } from "../../runner/run.js";
import type { Seed } from "../../lib/records.js";
import type { FakeOpenAIServer } from "../support/openai-server.js";
import { postgresAdminUrl } from "../support/postgres-db.js";
import { skipWithoutPostgres } from "../support/postgres-gate.js";
import { readRecords, startCodecServer } from "./support.js";

const url = postgresAdminUrl;
const skip = await skipWithoutPostgres();
const seeds: Seed[] = Array.from({ length: 8 }, (_, i) => ({
  id: `p${i}`,
  instruction: `Postgres seed ${i} about subject ${i % 3}`,
}));

describe.skipIf(skip)("Postgres checkpoints (--checkpoint postgres://…)", () => {
  let server: FakeOpenAIServer;
  let dir: string;

  beforeAll(async () => {
    server = await startCodecServer({ recordRequests: false });
    dir = await mkdtemp(join(tmpdir(), "codeclm-pg-"));
  });
  afterAll(async () => server?.close());

  const run = (name: string, extra: Partial<RunOptions> = {}): RunOptions => ({
    input: { seeds },
    config: {
      size: 40,
      poolSize: 10,
      seed: 3,
      strong: { model: "openai:strong-model" },
      target: { model: "openai:target-model" },
    },
    paths: outputPathsFor(join(dir, `${name}.jsonl`)),
    graph: { env: { OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test-pg-0123456789" } },
    checkpoint: { kind: "postgres", url },
    ...extra,
  });

  it("stops on a budget and resumes to the same output, paying each call once", async () => {
    const reference = await runToFiles(run("reference", { checkpoint: { kind: "none" } }));
    expect(reference.status).toBe("complete");
    const referenceCalls = server.counters.completed;
    const expected = await readRecords(join(dir, "reference.jsonl"));
    const expectedDropped = await readRecords(join(dir, "reference.dropped.jsonl"));
    expect(expected).toHaveLength(40);

    const start = server.counters.completed;
    const budget = Math.floor(referenceCalls / 2);
    const stopped = await runToFiles(run("pg", { config: { ...run("pg").config, budget: { maxCalls: budget } } }));
    expect(stopped.status).toBe("stopped");
    expect(server.counters.completed - start).toBeLessThanOrEqual(budget);

    const resumed = await runToFiles(run("pg", { resume: true }));
    expect(resumed.status).toBe("complete");
    // record for record, in file order (all fields but run ids and timings)
    expect(await readRecords(join(dir, "pg.jsonl"))).toEqual(expected);
    expect(await readRecords(join(dir, "pg.dropped.jsonl"))).toEqual(expectedDropped);
    expect(server.counters.completed - start).toBe(referenceCalls);

    // A completed run's checkpoints and journal are removed.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const left = await client.query("SELECT COUNT(*)::int AS n FROM codeclm_calls WHERE thread_id = $1", [
        resumed.runId,
      ]);
      expect(left.rows[0].n).toBe(0);
      const checkpoints = await client.query("SELECT COUNT(*)::int AS n FROM checkpoints WHERE thread_id = $1", [
        resumed.runId,
      ]);
      expect(checkpoints.rows[0].n).toBe(0);
    } finally {
      await client.end();
    }
  }, 60_000);
});
