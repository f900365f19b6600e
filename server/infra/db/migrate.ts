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

/**
 * Applies pending migrations in one transaction under an advisory lock, so instances (or a pre-deploy
 * command) migrating together take turns. The schema is created inside the lock too: two concurrent
 * `CREATE SCHEMA IF NOT EXISTS` of the same name race (23505 on pg_namespace_nspname_index).
 */
export async function migrate(db: Database, logger: Logger, schema?: string): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_ID]);
    if (schema) await tx.exec(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
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

/** The command that brings a database up to date; named by every process that refuses an old schema. */
export const MIGRATE_COMMAND = "npm run db:migrate";

/** The database lacks migrations this build needs: a process that only checks refuses to start. */
export class SchemaOutdatedError extends Error {
  constructor(readonly missing: number[]) {
    super(
      `the database schema is not current (missing migration${missing.length > 1 ? "s" : ""} ${missing.join(", ")}): ` +
        `run \`${MIGRATE_COMMAND}\` (or start the web process, which migrates) before starting this one`,
    );
    this.name = "SchemaOutdatedError";
  }
}

/** Throws SchemaOutdatedError unless every migration of this build is applied; changes nothing. */
export async function checkSchema(db: Database): Promise<void> {
  const { rows } = await db
    .query<{ version: number }>("SELECT version FROM schema_migrations")
    .catch((err: { code?: string }) => {
      if (err?.code === "42P01") return { rows: [] }; // undefined_table: never migrated
      throw err;
    });
  const done = new Set(rows.map((r) => Number(r.version)));
  const missing = MIGRATIONS.filter((m) => !done.has(m.version)).map((m) => m.version);
  if (missing.length > 0) throw new SchemaOutdatedError(missing);
}
