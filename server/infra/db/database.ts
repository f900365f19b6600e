import { mkdirSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { DependencyUnavailableError } from "../../lib/errors.js";
import type { Logger } from "../logging/logger.js";

export interface QueryResult<T> {
  rows: T[];
}

/** The SQL surface the app uses: real PostgreSQL (pg) and the embedded PGlite both provide it. */
export interface Database {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` on one connection inside BEGIN/COMMIT. */
  transaction<T>(fn: (tx: Pick<Database, "query" | "exec">) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
]);

/** True for errors meaning "the database cannot answer now" (as opposed to a bad query or a constraint). */
export function isDatabaseUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code ?? "";
  if (CONNECTION_CODES.has(code)) return true;
  if (/^(08|53|57P0)/.test(code)) return true;
  return /timeout exceeded when trying to connect|Connection terminated|Query read timeout|Client has encountered a connection error|connection timeout/i.test(
    err.message,
  );
}

function wrap(err: unknown): unknown {
  return isDatabaseUnavailableError(err) ? new DependencyUnavailableError("database", err) : err;
}

export interface PostgresOptions {
  url: string;
  schema?: string;
  poolMax: number;
  timeoutMs: number;
}

/** PostgreSQL through a pg Pool with bounded connect and query times. */
export function createPostgresDatabase(options: PostgresOptions, logger: Logger): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    connectionTimeoutMillis: options.timeoutMs,
    query_timeout: options.timeoutMs,
    idleTimeoutMillis: 30_000,
    options: options.schema ? `-c search_path=${options.schema}` : undefined,
  });
  // An idle client losing its connection emits here; without a listener the process would crash.
  pool.on("error", (err) =>
    logger.warn({ component: "db", err: { message: err.message } }, "idle database connection failed"),
  );
  return {
    async query<T>(sql: string, params?: unknown[]) {
      try {
        const result = await pool.query(sql, params as unknown[]);
        return { rows: result.rows as T[] };
      } catch (err) {
        throw wrap(err);
      }
    },
    async exec(sql: string) {
      try {
        await pool.query(sql);
      } catch (err) {
        throw wrap(err);
      }
    },
    async transaction(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw wrap(err);
      }
      try {
        await client.query("BEGIN");
        const result = await fn({
          query: async <R>(sql: string, params?: unknown[]) => ({
            rows: (await client.query(sql, params as unknown[])).rows as R[],
          }),
          exec: async (sql: string) => {
            await client.query(sql);
          },
        });
        await client.query("COMMIT");
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw wrap(err);
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

/**
 * The embedded default: PostgreSQL compiled to WebAssembly, persisted under `dataDir` (or in memory).
 * With `schema`, the app's tables live in that schema, as with PostgreSQL's `search_path` option.
 */
export async function createPgliteDatabase(options: {
  dataDir?: string;
  schema?: string;
}): Promise<Database> {
  const { PGlite } = await import("@electric-sql/pglite");
  let dir: string | undefined;
  if (options.dataDir) {
    dir = join(options.dataDir, "pglite");
    mkdirSync(dir, { recursive: true });
  }
  const db = await PGlite.create(dir ? { dataDir: dir } : {});
  if (options.schema) {
    // One connection for the process: a session-level search_path holds for every later query.
    await db.exec(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"; SET search_path TO "${options.schema}"`);
  }
  return {
    async query<T>(sql: string, params?: unknown[]) {
      const result = await db.query<T>(sql, params);
      return { rows: result.rows };
    },
    async exec(sql: string) {
      await db.exec(sql);
    },
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          query: async <R>(sql: string, params?: unknown[]) => ({
            rows: (await tx.query<R>(sql, params)).rows,
          }),
          exec: async (sql: string) => {
            await tx.exec(sql);
          },
        }),
      ),
    close: () => db.close(),
  };
}
