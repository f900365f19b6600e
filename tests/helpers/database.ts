import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import {
  createPgliteDatabase,
  createPostgresDatabase,
  type Database,
} from "../../server/infra/db/database.js";
import { migrate } from "../../server/infra/db/migrate.js";
import { dropSchema } from "./global-setup.js";
import { silentLogger } from "./logger.js";

export interface TestDatabase {
  db: Database;
  /** Env entries that point a spawned server at the same data (empty for PGlite, which is in-process). */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * A migrated database of its own: real PostgreSQL from TEST_DATABASE_URL in a new schema, or an
 * in-process PGlite copied from the run's migrated template (fixtures.ts shares one per file instead).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const url = process.env.TEST_DATABASE_URL;
  const logger = silentLogger();
  if (!url) {
    const template = inject("pgliteTemplate");
    const dir = mkdtempSync(join(tmpdir(), "pglite-test-"));
    if (template) cpSync(template, dir, { recursive: true });
    const db = await createPgliteDatabase({ dataDir: dir });
    if (!template) await migrate(db, logger);
    return {
      db,
      env: {},
      async close() {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `test_${randomBytes(6).toString("hex")}`;
  const db = createPostgresDatabase({ url, schema, poolMax: 5, timeoutMs: 5000 }, logger);
  await migrate(db, logger, schema);
  return {
    db,
    env: { DATABASE_URL: url, DATABASE_SCHEMA: schema },
    async close() {
      await db.close();
      await dropSchema(url, schema);
    },
  };
}

/**
 * A database of its own with no migration applied, for tests of the migrations themselves: a new schema on
 * TEST_DATABASE_URL (`schema` names it, for `migrate`), or an in-memory PGlite without one.
 */
export async function createEmptyDatabase(): Promise<TestDatabase & { schema?: string }> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    const db = await createPgliteDatabase({});
    return { db, env: {}, close: () => db.close() };
  }
  const schema = `test_${randomBytes(6).toString("hex")}`;
  const db = createPostgresDatabase({ url, schema, poolMax: 2, timeoutMs: 5000 }, silentLogger());
  await db.exec(`CREATE SCHEMA "${schema}"`);
  return {
    db,
    schema,
    env: { DATABASE_URL: url, DATABASE_SCHEMA: schema },
    async close() {
      await db.close();
      await dropSchema(url, schema);
    },
  };
}
