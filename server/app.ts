import express, { type Express } from "express";
import type { Store } from "express-session";
import helmet from "helmet";
import { createAccountService } from "./auth/account-service.js";
import { enforceCredentialEpoch } from "./auth/credential-epoch.js";
import { createPassport } from "./auth/passport.js";
import type { PasswordHasher } from "./auth/password.js";
import { createAuthRouter } from "./auth/routes.js";
import { createUserCache } from "./auth/user-cache.js";
import { createUserRepository } from "./auth/user-repository.js";
import type { Cache } from "./cache/cache.js";
import { createCacheAdminRouter } from "./cache/routes.js";
import type { Config } from "./config/config.js";
import type { Database } from "./db/database.js";
import { createHealthService } from "./health/health-service.js";
import { createLifecycle, type Lifecycle } from "./health/lifecycle.js";
import { createHealthRouter } from "./health/routes.js";
import { within } from "./health/shared-check.js";
import { csrfProtection } from "./http/csrf.js";
import { errorHandler, notFoundHandler, useFinalErrorHandler } from "./http/error-handler.js";
import { warnOnUntrustedForwarding } from "./http/forwarded-warning.js";
import type { Logger } from "./logging/logger.js";
import { createRequestLogger } from "./logging/request-logger.js";
import { createHttpMetrics } from "./metrics/http-metrics.js";
import { type CacheCategoryCounts, createMetrics, type Metrics } from "./metrics/metrics.js";
import { registerRedisAuditMetrics } from "./metrics/redis-audit-metrics.js";
import { estimateKeyCounts } from "./metrics/redis-metrics.js";
import { createMetricsRouter } from "./metrics/routes.js";
import { createOpenAIClient } from "./models/openai-client.js";
import { createModelsRouter } from "./models/routes.js";
import { createAssetsRouter, createPagesRouter, renderHtmlError } from "./pages/routes.js";
import { createProductRateLimits, createRateLimitStore } from "./ratelimit/policies.js";
import { createRedisAudits, type RedisAudits } from "./redis/audit.js";
import type { Redis } from "./redis/redis-client.js";
import { createSessionPrefetch } from "./session/prefetch.js";
import {
  createSessionIndex,
  createSessionMiddleware,
  createSessionStore,
  enforceAbsoluteTimeout,
  sessionKeyPrefix,
} from "./session/session.js";
import { createPublicIdFn } from "./session/session-index.js";
import { createUserSessions } from "./session/user-sessions.js";

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Database;
  hasher: PasswordHasher;
  /** The two-tier cache (built by `createCache`, closed by whoever built it). */
  cache: Cache;
  /** Absent when no Redis is configured (embedded mode). */
  redis?: Redis;
  /** The cache's own Redis (CACHE_REDIS_URL), for health and the audit; defaults to `redis`. */
  cacheRedis?: Redis;
  /** Started by the runtime; defaults to audits that run on demand when their last result is too old. */
  redisAudits?: RedisAudits;
  /** Defaults to the store config chooses (Redis or bounded memory). */
  sessionStore?: Store;
  /** Shutdown state set by main.ts; readiness reads it. Defaults to a process that is not stopping. */
  lifecycle?: Lifecycle;
  /** Defaults to a fresh registry for this app. */
  metrics?: Metrics;
}

/** Builds the Express app from its dependencies; does no I/O, so tests can build several. */
export function createApp(deps: AppDeps): Express {
  const { config, logger, db, hasher, redis, cache } = deps;
  // Every user write goes through this repository, which drops the user's cached copy everywhere.
  const userCache = createUserCache({ cache, users: createUserRepository(db) });
  const users = userCache.repository;
  const passport = createPassport({ users, hasher, lookup: userCache.lookup });
  const openai = config.openai.apiKey
    ? createOpenAIClient({
        baseUrl: config.openai.baseUrl,
        apiKey: config.openai.apiKey,
        timeoutMs: config.openai.timeoutMs,
      })
    : undefined;
  const store = deps.sessionStore ?? createSessionStore({ config, redis, logger });
  const lifecycle = deps.lifecycle ?? createLifecycle();
  const metrics = deps.metrics ?? createMetrics();
  const cacheRedis = deps.cacheRedis ?? redis;
  const audits =
    deps.redisAudits ??
    createRedisAudits({
      redis,
      cacheRedis,
      logger,
      intervalMs: config.redisAuditIntervalMs,
      timeoutMs: config.health.checkTimeoutMs,
    });
  const health = createHealthService({ config, db, redis, cacheRedis, audits, lifecycle, logger });
  registerRedisAuditMetrics(metrics.registry, audits);
  metrics.setHealthSource(async () => (await health.complete()).checks);
  metrics.setActiveSessionsSource(
    () => within(countSessions(store, redis, config), config.health.checkTimeoutMs),
    redis ? "redis" : "memory",
  );
  metrics.addCacheSource(() => {
    const counts: Record<string, CacheCategoryCounts> = {};
    for (const [category, c] of Object.entries(cache.stats().categories)) {
      counts[category] = { l1Hits: c.hitsL1, l2Hits: c.hitsL2, misses: c.misses, stale: c.stale };
    }
    return counts;
  });
  const limits = createProductRateLimits({
    config,
    logger,
    store: createRateLimitStore({ config, redis, logger }),
    metrics,
  });
  const sessions = createUserSessions({
    store,
    index: createSessionIndex({ config, redis, store }),
    publicId: createPublicIdFn(config.session.secrets[0] as string),
    logger,
  });
  const accounts = createAccountService({
    config,
    users,
    hasher,
    sessions,
    logger,
    limits,
    metrics,
  });

  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", config.trustProxy);
  app.set("query parser", "simple");
  app.set("etag", false);

  app.use(createRequestLogger(logger));
  app.use(warnOnUntrustedForwarding({ trustProxy: config.trustProxy, logger }));
  app.use(helmet());
  app.use((_req, res, next) => {
    // Every API answer depends on who asks; nothing may be stored by a shared cache.
    res.setHeader("Cache-Control", "no-store");
    next();
  });

  app.use(createHttpMetrics(app, metrics));
  app.use((_req, res, next) => {
    // While draining, each connection serves its request and closes, so clients reconnect elsewhere.
    if (lifecycle.shuttingDown) res.setHeader("Connection", "close");
    next();
  });

  app.use(createAssetsRouter());
  app.use("/health", createHealthRouter({ health }));
  app.use("/metrics", createMetricsRouter({ config, metrics, redis, cacheRedis, audits }));
  // Before the rate limiter, so its check and the session read share one Redis round trip.
  app.use(
    createSessionPrefetch({ store, cookieName: config.session.cookieName, secrets: config.session.secrets }),
  );

  // Before the session: a flood is turned away before express-session does any work (only a validly
  // signed cookie's read has already left, in the same write as this check).
  app.use(limits.global);

  // Before the session is read: a refused cross-site request costs no Redis round trip.
  app.use(csrfProtection({ allowedOrigins: config.appOrigins, logger }));

  // Operators use the bearer token, never a login: no session is read or created for these.
  app.use("/api/cache", createCacheAdminRouter({ config, cache }));
  app.use(createSessionMiddleware({ config, store }));
  app.use(enforceAbsoluteTimeout(config));
  app.use(passport.initialize());
  app.use(passport.session());
  app.use(enforceCredentialEpoch({ config, sessions, logger }));
  app.use(sessions.lastSeen());
  app.use("/api", limits.api);

  app.use("/auth", createAuthRouter({ config, accounts, limits }));
  app.use("/api/models", createModelsRouter({ config, cache, openai, logger }));
  app.use(createPagesRouter({ config, accounts, limits }));

  app.use(notFoundHandler());
  const handleError = errorHandler(logger, renderHtmlError);
  app.use(handleError);
  useFinalErrorHandler(app, handleError);
  return app;
}

/** Sessions stored now: an estimate from a bounded key sample with Redis, the exact count in memory. */
async function countSessions(
  store: Store,
  redis: Redis | undefined,
  config: Config,
): Promise<number | undefined> {
  if (redis) {
    if (redis.status !== "ready") return undefined;
    const estimate = await estimateKeyCounts(redis, { sessions: sessionKeyPrefix(config.keyPrefix) });
    return estimate.counts.sessions;
  }
  if (!store.length) return undefined;
  const length = store.length.bind(store);
  return new Promise((resolve) => length((err, n) => resolve(err ? undefined : n)));
}
