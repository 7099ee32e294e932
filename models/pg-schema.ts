/**
 * Creating codeclm's Postgres tables from several processes at once (a fleet's workers start together on
 * a fresh database). `CREATE TABLE IF NOT EXISTS` is not safe under concurrency: two sessions both find no
 * table and the second fails on a catalog unique index ("pg_type_typname_nsp_index"). Every schema
 * statement therefore runs in one transaction holding one advisory lock, so such statements run one at
 * a time across every process on the database.
 */
import type { Pool } from "pg";

/** The advisory lock key of codeclm's schema statements (any constant: "code" in ASCII). */
const SCHEMA_LOCK = 0x636f6465;

export async function ensureSchema(pool: Pool, ddl: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
    await client.query(ddl);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
