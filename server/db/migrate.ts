import type { Logger } from "../logging/logger.js";
import type { Database } from "./database.js";
import { MIGRATIONS } from "./migrations.js";

// Any constant works; it only has to be the same for every instance of this app.
const MIGRATION_LOCK_ID = 7_401_223;

/** Applies pending migrations in one transaction; instances booting together wait on an advisory lock. */
export async function migrate(db: Database, logger: Logger, schema?: string): Promise<number[]> {
  if (schema) await db.exec(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_ID]);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await tx.query<{ version: number }>("SELECT version FROM schema_migrations");
    const done = new Set(rows.map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      applied.push(m.version);
      logger.info({ component: "db", version: m.version, name: m.name }, "migration applied");
    }
    return applied;
  });
}
