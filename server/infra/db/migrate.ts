import { DependencyUnavailableError } from "../../lib/errors.js";
import type { Logger } from "../logging/logger.js";
import { type Database, isDatabaseUnavailableError } from "./database.js";
import { MIGRATIONS } from "./migrations.js";

/** A migration's SQL failed: retrying cannot help, the message says which one and why. */
export class MigrationError extends Error {
  constructor(
    readonly version: number,
    name: string,
    cause: unknown,
  ) {
    super(`migration ${version} (${name}) failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "MigrationError";
  }
}

/**
 * Whether migrating again may succeed: the database was unreachable, starting or out of connections.
 * A failing statement, a constraint or a refused login fails the same way every time.
 */
export function isMigrationRetryable(err: unknown): boolean {
  if (err instanceof MigrationError) return false;
  return err instanceof DependencyUnavailableError || isDatabaseUnavailableError(err);
}

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
      await tx
        .exec(m.sql)
        .then(() => m.run?.(tx))
        .catch((err: unknown) => {
          throw isMigrationRetryable(err) ? err : new MigrationError(m.version, m.name, err);
        });
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      applied.push(m.version);
      logger.info({ component: "db", version: m.version, name: m.name }, "migration applied");
    }
    return applied;
  });
}
