import { z } from "zod";
import { int, nonEmpty, secret, type Values } from "./variables.js";

export const DATABASE_VARIABLES = {
  DATABASE_URL: secret(nonEmpty.optional()), // PostgreSQL URL; unset: embedded PGlite under DATA_DIR
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case SQL identifier")
    .optional(), // schema of the app's tables (created if missing); unset: the server's search_path
  DATABASE_POOL_MAX: int(1, 1000).default(10), // pool size
  DATABASE_TIMEOUT_MS: int(100).default(5000), // bound on connecting and on each query
  DATA_DIR: nonEmpty.default(".data"), // files of the embedded database
};

/** PostgreSQL, or the embedded PGlite when no URL is given. */
export function databaseConfig(v: Values<typeof DATABASE_VARIABLES>) {
  return {
    database: {
      url: v.DATABASE_URL,
      schema: v.DATABASE_SCHEMA,
      poolMax: v.DATABASE_POOL_MAX,
      timeoutMs: v.DATABASE_TIMEOUT_MS,
      dataDir: v.DATA_DIR,
    },
  };
}

export type DatabaseConfig = ReturnType<typeof databaseConfig>;
