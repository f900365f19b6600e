import { randomBytes } from "node:crypto";
import pg from "pg";
import { createPgliteDatabase, createPostgresDatabase, type Database } from "../../server/db/database.js";
import { migrate } from "../../server/db/migrate.js";
import { silentLogger } from "./logger.js";

export interface TestDatabase {
  db: Database;
  /** Env entries that point a spawned server at the same data (empty for PGlite, which is in-process). */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Real PostgreSQL from TEST_DATABASE_URL in a schema of its own, or an in-memory PGlite; migrated. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const url = process.env.TEST_DATABASE_URL;
  const logger = silentLogger();
  if (!url) {
    const db = await createPgliteDatabase({});
    await migrate(db, logger);
    return { db, env: {}, close: () => db.close() };
  }
  const schema = `test_${randomBytes(6).toString("hex")}`;
  const db = createPostgresDatabase({ url, schema, poolMax: 5, timeoutMs: 5000 }, logger);
  await migrate(db, logger, schema);
  return {
    db,
    env: { DATABASE_URL: url, DATABASE_SCHEMA: schema },
    async close() {
      await db.close();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    },
  };
}
