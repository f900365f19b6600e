import type { Config, HealthDependency } from "../../config/config.js";
import type { Database } from "../../infra/db/database.js";
import type { JobQueue } from "../../infra/jobs/queue.js";
import type { Logger } from "../../infra/logging/logger.js";
import type { RedisAudit, RedisAuditReport } from "../../infra/redis/audit.js";
import { redisKeys } from "../../infra/redis/keys.js";
import type { Redis } from "../../infra/redis/redis-client.js";
import {
  checkDatabase,
  checkOpenAI,
  checkQueue,
  checkRedis,
  checkRedisDetail,
  type RedisDetail,
  trackRedisErrors,
} from "./checks.js";
import type { Lifecycle } from "./lifecycle.js";
import { type CheckResult, createSharedCheck } from "./shared-check.js";

export type OverallStatus = "healthy" | "degraded" | "unhealthy";

/** A separate cache Redis (CACHE_REDIS_URL) is checked too, but never required: the cache degrades to L1. */
export type CompleteChecks = Record<HealthDependency, CheckResult> & {
  redis_cache?: CheckResult;
} & Partial<Record<QueueCheckName, CheckResult>>;

/** A job queue's check, never required: `queue_mail`, ... */
export type QueueCheckName = `queue_${string}`;

/** Where signed-in sessions are read from: `fallback` is SESSION_FALLBACK, `serving` the source now. */
export interface SessionsMode {
  fallback: "off" | "database";
  serving: "redis" | "database" | "memory";
}

export interface CompleteReport {
  status: OverallStatus;
  checks: CompleteChecks;
  sessions: SessionsMode;
  timestamp: string;
}

export interface ReadyReport {
  ready: boolean;
  shuttingDown: boolean;
  checks: Partial<Record<HealthDependency, CheckResult>>;
}

export interface HealthService {
  /** Every dependency, in parallel, each within the check timeout. */
  complete(): Promise<CompleteReport>;
  /** Only the required dependencies; not ready at once while shutting down. */
  ready(): Promise<ReadyReport>;
  /** Undefined when no Redis is configured; `cache` only when the cache has a Redis of its own. */
  redisDetail(): Promise<{ sessions: RedisReport; cache?: RedisReport } | undefined>;
  readonly required: readonly HealthDependency[];
}

export interface RedisReport {
  check: RedisDetail | CheckResult;
  /** The latest fitness audit (cached, refreshed every REDIS_AUDIT_INTERVAL_MS); absent until one succeeds. */
  audit?: RedisAuditReport;
}

const NOT_CONFIGURED: CheckResult = { status: "not_configured", latency_ms: 0 };

/** Dependency checks shared by /health, readiness and the metrics gauges. */
export function createHealthService(deps: {
  config: Config;
  db: Database;
  redis?: Redis;
  /** The cache's own Redis, when it is not `redis`. */
  cacheRedis?: Redis;
  audits?: { sessions?: RedisAudit; cache?: RedisAudit };
  lifecycle: Lifecycle;
  logger: Logger;
  /** Job queues, each a check of its own in `complete()` (never required). */
  queues?: Array<Pick<JobQueue<unknown>, "name" | "inspect">>;
  /** The session store's mode now (default: Redis when configured, else memory, no fallback). */
  sessionsMode?: () => SessionsMode;
}): HealthService {
  const { config, db, redis, lifecycle, logger } = deps;
  const cacheRedis = deps.cacheRedis !== redis ? deps.cacheRedis : undefined;
  const healthKey = redisKeys(config.keyPrefix).health;
  const redisErrors = redis ? trackRedisErrors(redis) : undefined;
  const cacheErrors = cacheRedis ? trackRedisErrors(cacheRedis) : undefined;
  const timeoutMs = config.health.checkTimeoutMs;
  const required = config.health.required;
  const openai = config.openai.apiKey
    ? { apiKey: config.openai.apiKey, baseUrl: config.openai.baseUrl }
    : undefined;

  const runners: Record<HealthDependency, (() => Promise<CheckResult>) | undefined> = {
    database: createSharedCheck(() => checkDatabase(db), { timeoutMs }),
    redis:
      redis && redisErrors
        ? createSharedCheck(() => checkRedis(redis, healthKey, redisErrors), { timeoutMs })
        : undefined,
    // Cached: a probe every few seconds must not turn into an OpenAI call every few seconds.
    openai: openai
      ? createSharedCheck((signal) => checkOpenAI(openai, signal), {
          timeoutMs,
          cacheMs: config.health.openaiCacheSeconds * 1000,
        })
      : undefined,
  };
  const detail =
    redis && redisErrors
      ? createSharedCheck(() => checkRedisDetail(redis, healthKey, redisErrors), { timeoutMs })
      : undefined;
  const cacheCheck =
    cacheRedis && cacheErrors
      ? createSharedCheck(() => checkRedis(cacheRedis, healthKey, cacheErrors), { timeoutMs })
      : undefined;
  const cacheDetail =
    cacheRedis && cacheErrors
      ? createSharedCheck(() => checkRedisDetail(cacheRedis, healthKey, cacheErrors), { timeoutMs })
      : undefined;

  const queueChecks = (deps.queues ?? []).map((queue) => ({
    name: `queue_${queue.name}` as QueueCheckName,
    run: createSharedCheck(() => checkQueue(queue), { timeoutMs }),
  }));

  // Log changes of state, not every failed probe: a balancer probing every 5 s would flood the log.
  const last: Partial<Record<HealthDependency | "redis_cache" | QueueCheckName, CheckResult["status"]>> = {};
  const note = (name: HealthDependency | "redis_cache" | QueueCheckName, result: CheckResult) => {
    const previous = last[name];
    last[name] = result.status;
    if (previous === result.status) return;
    if (result.status === "unhealthy") {
      logger.warn({ component: "health", dependency: name, error: result.error }, "dependency unhealthy");
    } else if (previous === "unhealthy") {
      logger.info({ component: "health", dependency: name }, "dependency healthy again");
    }
  };

  const check = async (name: HealthDependency): Promise<CheckResult> => {
    const runner = runners[name];
    if (!runner) return NOT_CONFIGURED;
    const result = await runner();
    note(name, result);
    return result;
  };

  const checkMany = async <N extends HealthDependency>(names: readonly N[]) => {
    const results = await Promise.all(names.map(check));
    return Object.fromEntries(names.map((n, i) => [n, results[i]])) as Record<N, CheckResult>;
  };

  return {
    required,
    async complete() {
      const [checks, cacheResult, queueResults] = await Promise.all([
        checkMany(["database", "redis", "openai"] as const) as Promise<CompleteChecks>,
        cacheCheck?.(),
        Promise.all(queueChecks.map((q) => q.run())),
      ]);
      if (cacheResult) {
        note("redis_cache", cacheResult);
        checks.redis_cache = cacheResult;
      }
      queueChecks.forEach((q, i) => {
        const result = queueResults[i] as CheckResult;
        note(q.name, result);
        checks[q.name] = result;
      });
      const failing = (Object.keys(checks) as Array<keyof CompleteChecks>).filter(
        (n) => checks[n]?.status === "unhealthy",
      );
      const status: OverallStatus = failing.some((n) => required.includes(n as HealthDependency))
        ? "unhealthy"
        : failing.length > 0
          ? "degraded"
          : "healthy";
      const sessions = deps.sessionsMode?.() ?? {
        fallback: "off",
        serving: redis ? "redis" : "memory",
      };
      return { status, checks, sessions, timestamp: new Date().toISOString() };
    },
    async ready() {
      if (lifecycle.shuttingDown) return { ready: false, shuttingDown: true, checks: {} };
      const checks = await checkMany(required);
      const ready = Object.values(checks).every((c) => c.status !== "unhealthy");
      // Shutdown may have begun while the checks ran.
      return { ready: ready && !lifecycle.shuttingDown, shuttingDown: lifecycle.shuttingDown, checks };
    },
    async redisDetail() {
      if (!detail) return undefined;
      const report = async (
        run: () => Promise<RedisDetail | CheckResult>,
        audit: RedisAudit | undefined,
      ): Promise<RedisReport> => {
        const [check, current] = await Promise.all([run(), audit?.current()]);
        // A failed audit leaves the last good one in place: it says how Redis was configured.
        return { check, audit: current ?? audit?.latest() };
      };
      const [sessions, cache] = await Promise.all([
        report(detail, deps.audits?.sessions),
        cacheDetail ? report(cacheDetail, deps.audits?.cache) : undefined,
      ]);
      return { sessions, ...(cache ? { cache } : {}) };
    },
  };
}
