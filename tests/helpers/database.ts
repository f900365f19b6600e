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
