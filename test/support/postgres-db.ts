import pg from "pg";

/** The test server: CODECLM_TEST_POSTGRES_URL (set by .ci/run), else the usual local default. */
export const postgresConfigured = process.env.CODECLM_TEST_POSTGRES_URL;
export const postgresAdminUrl = postgresConfigured ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** A fresh database on a Postgres server (dropped first if it exists), so no run sees another's DBOS state. */
export async function freshDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
