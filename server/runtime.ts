import type { Server } from "node:http";
import { createApp } from "./app.js";
import { createPasswordHasher } from "./auth/password.js";
import { type Cache, createCache } from "./cache/cache.js";
import type { Config } from "./config/config.js";
import { createPgliteDatabase, createPostgresDatabase, type Database } from "./db/database.js";
import { isMigrationRetryable, migrate } from "./db/migrate.js";
import { trackRedisErrors } from "./health/checks.js";
import { createLifecycle, type Lifecycle } from "./health/lifecycle.js";
import { DependencyUnavailableError } from "./http/errors.js";
import type { Logger } from "./logging/logger.js";
import { createRedisAudits, type RedisAudits } from "./redis/audit.js";
import { connectRedis, createRedisClient, type Redis } from "./redis/redis-client.js";

export interface Runtime {
  app: ReturnType<typeof createApp>;
  redis?: Redis;
  /** The cache's own Redis (CACHE_REDIS_URL); absent when the cache shares `redis`. */
  cacheRedis?: Redis;
  audits: RedisAudits;
  cache: Cache;
  db: Database;
  /** Shutdown state: `beginShutdown()` turns readiness to 503 while requests are still served. */
  lifecycle: Lifecycle;
  /** Closes what `createRuntime` opened, in reverse order. */
  close(): Promise<void>;
}

const MIGRATION_ATTEMPTS = 10;

/** Opens the dependencies named by config (Redis, database), migrates, and builds the app. */
export async function createRuntime(config: Config, logger: Logger): Promise<Runtime> {
  for (const warning of config.warnings) logger.warn(warning);

  let redis: Redis | undefined;
  if (config.redis) {
    logger.info({ redis: config.redis.source }, "using Redis");
    redis = createRedisClient(config.redis, logger);
    trackRedisErrors(redis); // so health can name a boot failure (wrong password, unknown host)
    await connectRedis(redis, logger);
  }
  let cacheRedis: Redis | undefined;
  if (config.cacheRedis) {
    logger.info({ redis: config.cacheRedis.source }, "using a separate Redis for the cache");
    cacheRedis = createRedisClient(config.cacheRedis, logger, "cache");
    trackRedisErrors(cacheRedis);
    await connectRedis(cacheRedis, logger);
  }
  // Before anything else runs: a Redis that can evict sessions or lose them on restart is said loudly.
  const audits = createRedisAudits({
    redis,
    cacheRedis,
    logger,
    intervalMs: config.redisAuditIntervalMs,
    timeoutMs: config.health.checkTimeoutMs,
  });
  await audits.start();

  const db = config.database.url
    ? createPostgresDatabase({ ...config.database, url: config.database.url }, logger)
    : await createPgliteDatabase({ dataDir: config.database.dataDir, schema: config.database.schema });
  if (!config.database.url) {
    logger.warn({ dataDir: config.database.dataDir }, "No DATABASE_URL: using the embedded PGlite database");
  }
  await migrateWithRetry(db, logger, config.database.schema);

  const hasher = createPasswordHasher({
    logN: config.password.scryptLogN,
    concurrency: config.password.concurrency,
    queueMax: config.password.queueMax,
    maxWaitMs: config.password.maxWaitMs,
  });
  const cache = createCache({
    redis: cacheRedis ?? redis,
    prefix: config.keyPrefix,
    logger,
    config: config.cache,
  });
  const lifecycle = createLifecycle();
  const app = createApp({
    config,
    logger,
    db,
    hasher,
    redis,
    cacheRedis: cacheRedis ?? redis,
    redisAudits: audits,
    cache,
    lifecycle,
  });
  return {
    app,
    redis,
    cacheRedis,
    audits,
    cache,
    db,
    lifecycle,
    async close() {
      audits.stop();
      await cache.close(); // its pub/sub connection
      await cacheRedis?.quit().catch(() => cacheRedis?.disconnect());
      await redis?.quit().catch(() => redis?.disconnect());
      await db.close();
    },
  };
}

async function migrateWithRetry(db: Database, logger: Logger, schema?: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await migrate(db, logger, schema);
      return;
    } catch (err) {
      if (!isMigrationRetryable(err)) throw err;
      const cause = rootCause(err);
      if (attempt >= MIGRATION_ATTEMPTS) {
        throw new Error(
          `database unavailable after ${attempt} attempts: ${cause.code ?? ""} ${cause.message}`.replace(
            "  ",
            " ",
          ),
        );
      }
      const delay = Math.min(500 * 2 ** (attempt - 1), 5000); // ms
      logger.warn(
        { attempt, delayMs: delay, err: cause },
        `database not ready (${cause.code ?? cause.message}); retrying migrations`,
      );
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** The driver's error inside our 503 wrapper: its code (ECONNREFUSED, 28P01, ...) names the cause. */
function rootCause(err: unknown): { message: string; code?: string } {
  const inner = err instanceof DependencyUnavailableError && err.cause instanceof Error ? err.cause : err;
  const e = inner as NodeJS.ErrnoException;
  return { message: e?.message ?? String(inner), ...(e?.code ? { code: e.code } : {}) };
}

/** Stops accepting connections, lets in-flight requests finish within `timeoutMs`, then cuts the rest. */
export function closeServer(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
