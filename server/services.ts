import type { Store } from "express-session";
import { type AccountRecovery, createAccountRecovery, createMailRequests } from "./auth/account-recovery.js";
import { type AccountService, createAccountService } from "./auth/account-service.js";
import { createAccountTokens } from "./auth/account-tokens.js";
import { createPassport } from "./auth/passport.js";
import type { PasswordHasher } from "./auth/password.js";
import { createUserCache, type UserCache } from "./auth/user-cache.js";
import { createUserRepository, type UserRepository } from "./auth/user-repository.js";
import type { Cache } from "./cache/cache.js";
import type { Config } from "./config/config.js";
import type { Database } from "./db/database.js";
import { createHealthService, type HealthService } from "./health/health-service.js";
import type { JobQueue } from "./jobs/queue.js";
import { within } from "./lib/within.js";
import type { Logger } from "./logging/logger.js";
import type { Mailer, MailJob } from "./mail/types.js";
import { createMetrics, type Metrics } from "./metrics/metrics.js";
import { registerRedisAuditMetrics } from "./metrics/redis-audit-metrics.js";
import { estimateKeyCounts } from "./metrics/redis-metrics.js";
import { createOpenAIClient, type OpenAIClient } from "./models/openai-client.js";
import type { Lifecycle } from "./process/lifecycle.js";
import {
  createProductRateLimits,
  createRateLimitStore,
  type ProductRateLimits,
} from "./ratelimit/policies.js";
import { createRedisAudits, type RedisAudits } from "./redis/audit.js";
import { redisKeys } from "./redis/keys.js";
import type { Redis } from "./redis/redis-client.js";
import { createMemoryActivityStore, createRedisActivityStore } from "./security/activity-store.js";
import { createSecurityEvents, type SecurityEvents } from "./security/events.js";
import { createSessionIndex, createSessionStore } from "./session/session.js";
import { publicSessionId } from "./session/session-index.js";
import { createUserSessions, type UserSessions } from "./session/user-sessions.js";

/** What the runtime opened before any service exists; each part is closed by whoever opened it. */
export interface Infrastructure {
  logger: Logger;
  db: Database;
  /** Absent when no Redis is configured (embedded mode). */
  redis?: Redis;
  /** The cache's own Redis (CACHE_REDIS_URL); absent when the cache shares `redis`. */
  cacheRedis?: Redis;
  /** The two-tier cache, on `cacheRedis` or else `redis`. */
  cache: Cache;
  hasher: PasswordHasher;
  /** Shutdown state set by main.ts; readiness reads it. */
  lifecycle: Lifecycle;
  /** The `mail` job queue: BullMQ on Redis when configured, else this process' memory. */
  mailQueue: JobQueue<MailJob>;
  /** Delivers composed mails (SMTP_URL, else the outbox folder); used by whoever runs the mail jobs. */
  mailer: Mailer;
}

/** Every service the request path uses, each built once. */
export interface Services extends Infrastructure {
  config: Config;
  /** Every user write goes through it, which drops the user's cached copy on every instance. */
  users: UserRepository;
  userCache: UserCache;
  passport: ReturnType<typeof createPassport>;
  /** Absent without OPENAI_API_KEY. */
  openai?: OpenAIClient;
  /** The session store: Redis when configured, else bounded memory. */
  store: Store;
  sessions: UserSessions;
  health: HealthService;
  limits: ProductRateLimits;
  accounts: AccountService;
  /** Forgot password, reset, email verification. */
  recovery: AccountRecovery;
  metrics: Metrics;
  /** Started by the runtime; until then each audit runs on demand when its last result is too old. */
  audits: RedisAudits;
  /** The security event log and each user's recent activity. */
  events: SecurityEvents;
}

export interface ServiceOptions {
  /** Keeps sessions off Redis (tests that take Redis away from the other features). */
  sessionStore?: Store;
  /** prom-client's process and Node.js metrics in the registry (default true). */
  processMetrics?: boolean;
}

/** Builds every service from the opened infrastructure; does no I/O. */
export function createServices(
  config: Config,
  infra: Infrastructure,
  options: ServiceOptions = {},
): Services {
  const { logger, db, redis, cache, hasher, lifecycle } = infra;
  const cacheRedis = infra.cacheRedis ?? redis;
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
  const { store, sessions } = createSessionServices(config, { redis, logger, store: options.sessionStore });
  const audits = createRedisAudits({
    redis,
    cacheRedis,
    logger,
    intervalMs: config.redisAuditIntervalMs,
    timeoutMs: config.health.checkTimeoutMs,
  });
  const health = createHealthService({
    config,
    db,
    redis,
    cacheRedis,
    audits,
    lifecycle,
    logger,
    queues: [infra.mailQueue],
  });
  const metrics = createMetrics({
    processMetrics: options.processMetrics,
    queues: [
      {
        name: infra.mailQueue.name,
        depths: () => within(infra.mailQueue.depths(), config.health.checkTimeoutMs),
      },
    ],
    cache,
    health,
    sessions: {
      store: redis ? "redis" : "memory",
      count: () => within(countSessions(store, redis, config), config.health.checkTimeoutMs),
    },
  });
  registerRedisAuditMetrics(metrics.registry, audits);
  const events = createEvents(config, { redis, logger, metrics, users });
  const limits = createProductRateLimits({
    config,
    logger,
    store: createRateLimitStore({ config, redis, logger }),
    metrics: {
      rateLimitRejected(policy) {
        metrics.rateLimitRejected(policy);
        // The account service records a locked account as `login_locked`, with the account.
        // A skipped sign-in notice is no one's abuse.
        if (policy !== "login-account" && policy !== "sign-in-notice")
          events.record("rate_limited", { policy });
      },
    },
  });
  const mail = createMailRequests({ queue: infra.mailQueue, logger });
  const accounts = createAccountService({
    config,
    users,
    hasher,
    sessions,
    logger,
    limits,
    metrics,
    events,
    mail,
    recoveryEmail: limits.recoveryEmail,
  });
  const recovery = createAccountRecovery({
    config,
    users,
    tokens: createAccountTokens(db),
    hasher,
    sessions,
    mail,
    limits,
    logger,
    events,
  });
  return {
    ...infra,
    config,
    users,
    userCache,
    passport,
    openai,
    store,
    sessions,
    health,
    limits,
    accounts,
    recovery,
    metrics,
    audits,
    events,
  };
}

/** The security event log; each user's activity on Redis when configured, else in this process. */
function createEvents(
  config: Config,
  deps: { redis?: Redis; logger: Logger; metrics: Metrics; users: UserRepository },
): SecurityEvents {
  const { redis, logger, metrics, users } = deps;
  const retention = {
    perUser: config.securityEvents.perUser,
    retentionSeconds: config.securityEvents.retentionSeconds,
  };
  return createSecurityEvents({
    logger,
    store: redis
      ? createRedisActivityStore({ redis, keyPrefix: config.keyPrefix, ...retention })
      : createMemoryActivityStore({ maxUsers: config.securityEvents.memoryUsers, ...retention }),
    hashKey: config.session.secrets[0] as string,
    perUser: retention.perUser,
    registry: metrics.registry,
    findUserId: async (email) => (await users.findByEmail(email))?.id,
  });
}

/** The session store (Redis when configured, else bounded memory) and the per-user view over it. */
export function createSessionServices(
  config: Config,
  deps: { redis?: Redis; logger: Logger; store?: Store },
): { store: Store; sessions: UserSessions } {
  const { redis, logger } = deps;
  const store = deps.store ?? createSessionStore({ config, redis, logger });
  const sessions = createUserSessions({
    store,
    index: createSessionIndex({ config, redis, store }),
    publicId: publicSessionId,
    logger,
  });
  return { store, sessions };
}

/** Sessions stored now: an estimate from a bounded key sample with Redis, the exact count in memory. */
async function countSessions(
  store: Store,
  redis: Redis | undefined,
  config: Config,
): Promise<number | undefined> {
  if (redis) {
    if (redis.status !== "ready") return undefined;
    const estimate = await estimateKeyCounts(redis, { sessions: redisKeys(config.keyPrefix).sessions });
    return estimate.counts.sessions;
  }
  if (!store.length) return undefined;
  const length = store.length.bind(store);
  return new Promise((resolve) => length((err, n) => resolve(err ? undefined : n)));
}
