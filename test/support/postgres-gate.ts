/** Postgres test files skip without a server, or fail when one was promised (CI, CODECLM_TEST_POSTGRES_URL). */
import pg from "pg";
import { skipUnless } from "./gate.js";
import { postgresAdminUrl, postgresConfigured } from "./postgres-db.js";

async function reachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: postgresAdminUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * True when a Postgres test file should skip. When CODECLM_TEST_POSTGRES_URL is set, or under CI=true, a
 * server that does not answer fails instead (support/gate.ts), naming why.
 */
export async function skipWithoutPostgres(): Promise<boolean> {
  const problem = await reachable();
  return skipUnless(
    problem === undefined,
    postgresConfigured === undefined
      ? `no Postgres: CODECLM_TEST_POSTGRES_URL is not set and ${postgresAdminUrl.replace(/:[^:@/]*@/, "@")} does not answer (${problem})`
      : `CODECLM_TEST_POSTGRES_URL is set but does not answer: ${problem}`,
    { required: postgresConfigured !== undefined },
  );
}
