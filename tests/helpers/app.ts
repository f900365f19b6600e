import { randomBytes } from "node:crypto";
import type { Express } from "express";
import type { Store } from "express-session";
import { createApp } from "../../server/app.js";
import { createPasswordHasher } from "../../server/auth/password.js";
import { type Cache, createCache } from "../../server/cache/cache.js";
import { type Config, type Env, loadConfig } from "../../server/config/config.js";
import type { Database } from "../../server/db/database.js";
import type { Logger } from "../../server/logging/logger.js";
import { connectRedis, createRedisClient, type Redis } from "../../server/redis/redis-client.js";
import { silentLogger } from "./logger.js";

export const TEST_SECRET = "test-secret-that-is-long-enough-for-prod-0123456789";

export function uniquePrefix(): string {
  return `t${randomBytes(5).toString("hex")}`;
}

/** Environment for a test app: fast password hashing, its own key prefix; `overrides` win. */
export function testEnv(overrides: Env = {}): Env {
  return {
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    SESSION_SECRET: TEST_SECRET,
    KEY_PREFIX: uniquePrefix(),
    PASSWORD_SCRYPT_LOG_N: "10",
    ...overrides,
  };
}

export interface TestApp {
  app: Express;
  config: Config;
  redis?: Redis;
  /** The same cache instance the app uses. */
  cache: Cache;
  close(): Promise<void>;
}

/** Builds the real app on a real Redis (when `env` names one) and the given database. */
export async function buildTestApp(options: {
  db: Database;
  env?: Env;
  logger?: Logger;
  /** Keeps sessions off Redis, for tests that take Redis away from the other features. */
  sessionStore?: Store;
}): Promise<TestApp> {
  const config = loadConfig(testEnv(options.env));
  const logger = options.logger ?? silentLogger();
  let redis: Redis | undefined;
  if (config.redis) {
    redis = createRedisClient(config.redis, logger, "test");
    await connectRedis(redis, logger);
  }
  const hasher = createPasswordHasher({
    logN: config.password.scryptLogN,
    concurrency: config.password.concurrency,
    queueMax: config.password.queueMax,
    maxWaitMs: config.password.maxWaitMs,
  });
  const cache = createCache({ redis, prefix: config.keyPrefix, logger, config: config.cache });
  const app = createApp({
    config,
    logger,
    db: options.db,
    hasher,
    redis,
    cache,
    sessionStore: options.sessionStore,
  });
  return {
    app,
    config,
    redis,
    cache,
    async close() {
      await cache.close();
      redis?.disconnect();
    },
  };
}
