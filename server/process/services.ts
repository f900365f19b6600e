import type { Store } from "express-session";
import type { Config } from "../config/config.js";
import { createAdminActions } from "../domain/admin/admin-actions.js";
import { createUserDirectory } from "../domain/admin/user-directory.js";
import { createAccountDeletion } from "../domain/auth/account-deletion.js";
import { createAccountExport } from "../domain/auth/account-export.js";
import { createAccountRecovery, createMailRequests } from "../domain/auth/account-recovery.js";
import { createAccountService } from "../domain/auth/account-service.js";
import { createAccountTokens } from "../domain/auth/account-tokens.js";
import { createBeginSignIn } from "../domain/auth/begin-sign-in.js";
import { createDeviceCookies } from "../domain/auth/device-cookie.js";
import { createMemoryDeviceGrants, createRedisDeviceGrants } from "../domain/auth/device-grants.js";
import { createDeviceSignIn } from "../domain/auth/device-sign-in.js";
import { createEmailChange } from "../domain/auth/email-change.js";
import { createGroupRepository } from "../domain/auth/groups.js";
import { createPassport } from "../domain/auth/passport.js";
import { createPersonalTokenRecords } from "../domain/auth/personal-token-records.js";
import { createPersonalTokens } from "../domain/auth/personal-tokens.js";
import { createSignIn } from "../domain/auth/sign-in.js";
import { createUserCache } from "../domain/auth/user-cache.js";
import { createUserRepository, type UserRepository } from "../domain/auth/user-repository.js";
import { createHealthService } from "../domain/health/health-service.js";
import { createMetrics, type Metrics } from "../domain/metrics/metrics.js";
import { registerRedisAuditMetrics } from "../domain/metrics/redis-audit-metrics.js";
import { estimateKeyCounts } from "../domain/metrics/redis-metrics.js";
import { createChallengeStore } from "../domain/mfa/challenge-store.js";
import { createFactorReset } from "../domain/mfa/factor-reset.js";
import { createMfaRepository } from "../domain/mfa/mfa-repository.js";
import { createPasskeyRepository } from "../domain/mfa/passkey-repository.js";
import { createPasskeys } from "../domain/mfa/passkeys.js";
import { createSecondFactors } from "../domain/mfa/second-factors.js";
import { createSecretBox } from "../domain/mfa/secret-box.js";
import { createTrustedDevices } from "../domain/mfa/trusted-devices.js";
import { createOpenAIClient } from "../domain/models/openai-client.js";
import { createProductRateLimits, createRateLimitStore } from "../domain/ratelimit/policies.js";
import { createMemoryActivityStore, createRedisActivityStore } from "../domain/security/activity-store.js";
import { createSecurityEvents, type SecurityEvents } from "../domain/security/events.js";
import { createMemoryLockedAccounts, createRedisLockedAccounts } from "../domain/security/locked-accounts.js";
import {
  createMemorySignInStats,
  createRedisSignInStats,
  type SignInOutcome,
  type SignInStats,
} from "../domain/security/sign-in-stats.js";
import type { Infrastructure, Services } from "../domain/services.js";
import type { RestoreStage } from "../domain/session/durable-sessions.js";
import { fallbackTolerantIndex } from "../domain/session/fallback-index.js";
import { SessionRedisStore } from "../domain/session/redis-store.js";
import { createSessionIndex, createSessionStore } from "../domain/session/session.js";
import { publicSessionId, type SessionIndex } from "../domain/session/session-index.js";
import { createUserSessions, type UserSessions } from "../domain/session/user-sessions.js";
import type { Database } from "../infra/db/database.js";
import type { Logger } from "../infra/logging/logger.js";
import { createRedisAudits } from "../infra/redis/audit.js";
import { redisKeys } from "../infra/redis/keys.js";
import type { Redis } from "../infra/redis/redis-client.js";
import { within } from "../lib/within.js";
import { clusterMetricsRender } from "./cluster-metrics.js";
import { createOAuthServices, createProviderClients } from "./oauth-services.js";

export type { Infrastructure, Services };

export interface ServiceOptions {
  /** Keeps sessions off Redis (tests that take Redis away from the other features). */
  sessionStore?: Store;
  /** Tests only: awaited at each stage of a session restore, to race it with a revocation. */
  restoreHold?: (stage: RestoreStage, sid: string) => Promise<void>;
  /** prom-client's process and Node.js metrics in the registry (default true). */
  processMetrics?: boolean;
  /** Tests only: the clock provider sign-ins check ID tokens and flows against, and TOTP codes. */
  now?: () => number;
}

/** Builds every service from the opened infrastructure; does no I/O. */
export function createServices(
  config: Config,
  infra: Infrastructure,
  options: ServiceOptions = {},
): Services {
  const { logger, db, redis, cache, hasher, lifecycle } = infra;
  const cacheRedis = infra.cacheRedis ?? redis;
  const userCache = createUserCache({
    cache,
    users: createUserRepository(db),
    groups: createGroupRepository(db),
  });
  const users = userCache.repository;
  const passport = createPassport({ users, hasher, lookup: userCache.lookup });
  const openai = config.openai.apiKey
    ? createOpenAIClient({
        baseUrl: config.openai.baseUrl,
        apiKey: config.openai.apiKey,
        timeoutMs: config.openai.timeoutMs,
      })
    : undefined;
  const { store, sessions } = createSessionServices(config, {
    redis,
    db,
    logger,
    store: options.sessionStore,
    restoreHold: options.restoreHold,
  });
  const audits = createRedisAudits({
    redis,
    cacheRedis,
    logger,
    intervalMs: config.redisAuditIntervalMs,
    timeoutMs: config.health.checkTimeoutMs,
    durable: store instanceof SessionRedisStore && store.durable !== undefined,
  });
  const providerClients = createProviderClients(config, options.now);
  const health = createHealthService({
    providers: providerClients,
    config,
    db,
    redis,
    cacheRedis,
    audits,
    lifecycle,
    logger,
    queues: [infra.mailQueue],
    sessionsMode: () => {
      const fallback = store instanceof SessionRedisStore ? store.durable?.fallback : undefined;
      return {
        fallback: fallback ? "database" : "off",
        serving: fallback?.serving() ?? (store instanceof SessionRedisStore ? "redis" : "memory"),
      };
    },
  });
  const metrics = createMetrics({
    render: clusterMetricsRender,
    processMetrics: options.processMetrics,
    queues: [
      {
        name: infra.mailQueue.name,
        depths: () => within(infra.mailQueue.depths(), config.health.checkTimeoutMs),
      },
    ],
    cache,
    health,
    durableSessions: store instanceof SessionRedisStore ? store.durable : undefined,
    sessions: {
      store: redis ? "redis" : "memory",
      count: () => within(countSessions(store, redis, config), config.health.checkTimeoutMs),
    },
  });
  registerRedisAuditMetrics(metrics.registry, audits);
  const signInStats = redis
    ? createRedisSignInStats({ redis, keyPrefix: config.keyPrefix })
    : createMemorySignInStats();
  const events = createEvents(config, { redis, logger, metrics, users, signInStats });
  const lockedAccounts = redis
    ? createRedisLockedAccounts({ redis, keyPrefix: config.keyPrefix })
    : createMemoryLockedAccounts();
  const limits = createProductRateLimits({
    config,
    logger,
    locked: lockedAccounts,
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
  const devices = createDeviceCookies({
    secrets: config.session.secrets,
    ttlSeconds: config.session.deviceCookieTtlSeconds,
  });
  const signIn = createSignIn({ config, sessions, logger, devices, limits, metrics, events, mail });
  // The factors' service needs step-up from the account service, which needs the factors' list: a
  // late-bound lookup breaks the cycle.
  let secondFactors: Services["secondFactors"] | undefined;
  const mfaRepository = createMfaRepository(db);
  const trustedDevices = createTrustedDevices({
    devices,
    repository: mfaRepository,
    maxAgeSeconds: config.mfa.trustedDeviceSeconds,
    logger,
  });
  const beginSignIn = createBeginSignIn({
    config,
    signIn,
    logger,
    methodsOf: (userId) => secondFactors?.methodsOf(userId) ?? Promise.resolve([]),
    isTrustedDevice: (device, record) => trustedDevices.isTrusted(device, record),
    events,
  });
  const accounts = createAccountService({
    config,
    users,
    hasher,
    sessions,
    logger,
    limits,
    devices,
    signIn,
    beginSignIn,
    metrics,
    events,
    mail,
    recoveryEmail: limits.recoveryEmail,
  });
  const publicUrl = new URL(config.mail.publicUrl);
  const passkeyRepository = createPasskeyRepository(db);
  const passkeys = createPasskeys({
    repository: passkeyRepository,
    challenges: createChallengeStore({ redis, keyPrefix: config.keyPrefix }),
    users,
    rp: {
      id: publicUrl.hostname,
      name: publicUrl.host,
      origins: [...new Set([publicUrl.origin, ...config.appOrigins])],
      // The fallback origin (http://localhost:PORT) is a development convenience, never a production RP.
      configured: !config.isProduction || publicUrl.hostname !== "localhost",
    },
    stepUp: accounts,
    signIn,
    beginSignIn,
    events,
    logger,
    mail,
  });
  secondFactors = createSecondFactors({
    repository: mfaRepository,
    users,
    box: createSecretBox(config.mfa.encryptionKeys),
    signIn,
    stepUp: accounts,
    devices,
    limits,
    events,
    logger,
    issuer: publicUrl.host,
    passkeyCount: (userId) => passkeys.countFor(userId),
    verifyPasskey: (userId, response) => passkeys.verifyFactor(userId, response),
    trustedDevices,
    mail,
    now: options.now,
  });
  const accountTokens = createAccountTokens(db);
  const recovery = createAccountRecovery({
    config,
    users,
    tokens: accountTokens,
    hasher,
    sessions,
    mail,
    limits,
    logger,
    events,
  });
  const oauth = createOAuthServices(config, {
    clients: providerClients,
    db,
    redis,
    users,
    beginSignIn,
    events,
    metrics,
    logger,
    now: options.now,
  });
  const groups = userCache.groups;
  const deletion = createAccountDeletion({ users, groups, sessions, events, mail, logger });
  const directory = createUserDirectory(db);
  const personalTokens = createPersonalTokens({
    config: config.tokens,
    records: createPersonalTokenRecords(db),
    cache,
    logger,
    events,
  });
  const factors = createFactorReset({
    repository: mfaRepository,
    passkeys: passkeyRepository,
    mail,
    logger,
    events,
  });
  const actions = createAdminActions({
    directory,
    factors,
    users,
    groups,
    sessions,
    recovery,
    deletion,
    events,
  });
  return {
    ...infra,
    config,
    oauth,
    deletion,
    exports: createAccountExport({
      users,
      groups,
      sessions,
      events,
      identities: oauth,
      factors: mfaRepository,
      passkeys: passkeyRepository,
      personalTokens,
    }),
    admin: {
      directory,
      actions,
      factors,
      signInStats,
      lockedAccounts,
      sessionCount: () => within(countSessions(store, redis, config), config.health.checkTimeoutMs),
    },
    users,
    userCache,
    passport,
    openai,
    store,
    sessions,
    health,
    limits,
    signIn,
    beginSignIn,
    secondFactors,
    passkeys,
    accounts,
    recovery,
    emailChange: createEmailChange({ users, tokens: accountTokens, mail, limits, logger, events }),
    metrics,
    audits,
    events,
    deviceSignIn: createDeviceSignIn({
      config: config.device,
      store: redis
        ? createRedisDeviceGrants({ redis, keyPrefix: config.keyPrefix })
        : createMemoryDeviceGrants(),
      users,
      beginSignIn,
      logger,
    }),
    personalTokens,
  };
}

/** The security event log; each user's activity on Redis when configured, else in this process. */
const OUTCOMES: Partial<Record<string, SignInOutcome>> = {
  login_succeeded: "succeeded",
  login_failed: "failed",
  login_locked: "locked",
};

function createEvents(
  config: Config,
  deps: { redis?: Redis; logger: Logger; metrics: Metrics; users: UserRepository; signInStats: SignInStats },
): SecurityEvents {
  const { redis, logger, metrics, users, signInStats } = deps;
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
    observe(event) {
      const outcome = OUTCOMES[event.event];
      // A lost count only thins the overview's chart; the event itself is logged either way.
      if (outcome) signInStats.count(outcome).catch(() => undefined);
    },
  });
}

/** The session store (Redis when configured, else bounded memory) and the per-user view over it. */
export function createSessionServices(
  config: Config,
  deps: {
    redis?: Redis;
    db?: Database;
    logger: Logger;
    store?: Store;
    restoreHold?: (stage: RestoreStage, sid: string) => Promise<void>;
  },
): { store: Store; sessions: UserSessions } {
  const { redis, db, logger } = deps;
  let index: SessionIndex | undefined;
  const store =
    deps.store ??
    createSessionStore({
      config,
      redis,
      db,
      logger,
      restoreHold: deps.restoreHold,
      // A restored session is listed (and revocable) again.
      restored: async (userId, sid, auth) => {
        await index?.add(userId, {
          sid,
          createdAt: auth.loginAt,
          lastSeenAt: Date.now(),
          ip: auth.ip,
          userAgent: auth.userAgent,
          ...(auth.client ? { client: auth.client } : {}),
        });
      },
    });
  index = createSessionIndex({ config, redis, store });
  const fallback = store instanceof SessionRedisStore ? store.durable?.fallback : undefined;
  if (fallback) index = fallbackTolerantIndex(index, fallback, logger);
  const sessions = createUserSessions({
    store,
    index,
    publicId: publicSessionId,
    logger,
    durable: store instanceof SessionRedisStore ? store.durable : undefined,
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
