import { randomBytes } from "node:crypto";
import type { Express } from "express";
import type { Store } from "express-session";
import { type Config, type Env, loadConfig } from "../../server/config/config.js";
import type { Cache } from "../../server/domain/cache/cache.js";
import type { RestoreStage } from "../../server/domain/session/durable-sessions.js";
import type { Database } from "../../server/infra/db/database.js";
import type { Logger } from "../../server/infra/logging/logger.js";
import { connectRedis, createRedisClient, type Redis } from "../../server/infra/redis/redis-client.js";
import { createRuntime, type RuntimeContext, type RuntimeFactories } from "../../server/process/runtime.js";
import { createServices, type Services } from "../../server/process/services.js";
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
    MFA_ENCRYPTION_KEY: TEST_SECRET,
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
  /** Every service the app was built from. */
  services: Services;
  close(): Promise<void>;
}

/** Opens the Redis named by `redisConfig` for a test: closed without waiting for a reply (it may be frozen). */
async function testRedis(ctx: RuntimeContext, redisConfig: Config["redis"], name: string) {
  if (!redisConfig) return undefined;
  const redis = createRedisClient(redisConfig, ctx.logger, name);
  ctx.onClose(() => redis.disconnect());
  await connectRedis(redis, ctx.logger);
  return redis;
}

/**
 * Builds the real app through the runtime's factories on a real Redis (when `env` names one) and the
 * given database, which stays open. The Redis audits run on demand, when a request reads them.
 */
export async function buildTestApp(options: {
  db: Database;
  env?: Env;
  logger?: Logger;
  /** Keeps sessions off Redis, for tests that take Redis away from the other features. */
  sessionStore?: Store;
  processMetrics?: boolean;
  /** Awaited at each stage of a session restore, to race it with a revocation. */
  restoreHold?: (stage: RestoreStage, sid: string) => Promise<void>;
  /** The clock provider sign-ins check ID tokens and flows against, and TOTP codes. */
  now?: () => number;
  /** Replaces more of the runtime's factories (e.g. the cache). */
  factories?: Partial<RuntimeFactories>;
}): Promise<TestApp> {
  const config = loadConfig(testEnv(options.env));
  const runtime = await createRuntime(config, options.logger ?? silentLogger(), {
    redis: (ctx) => testRedis(ctx, ctx.config.redis, "test"),
    cacheRedis: (ctx) => testRedis(ctx, ctx.config.cacheRedis, "test-cache"),
    database: async () => options.db,
    services: (c, infrastructure) =>
      createServices(c, infrastructure, {
        sessionStore: options.sessionStore,
        processMetrics: options.processMetrics,
        restoreHold: options.restoreHold,
        now: options.now,
      }),
    start: async () => undefined,
    ...options.factories,
  });
  return {
    app: runtime.app,
    config,
    redis: runtime.services.redis,
    cache: runtime.services.cache,
    services: runtime.services,
    close: runtime.close,
  };
}
