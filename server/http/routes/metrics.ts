import { type RequestHandler, Router } from "express";
import type { Config } from "../../config/config.js";
import { reasonCode, shortReason, trackRedisErrors } from "../../domain/health/checks.js";
import type { Metrics } from "../../domain/metrics/metrics.js";
import { estimateKeyCounts, readRedisMetrics } from "../../domain/metrics/redis-metrics.js";
import type { JobQueue } from "../../infra/jobs/queue.js";
import { auditJson, type RedisAudit, type RedisAudits } from "../../infra/redis/audit.js";
import { keyNamespaces } from "../../infra/redis/keys.js";
import type { Redis } from "../../infra/redis/redis-client.js";
import { within } from "../../lib/within.js";
import type { AdminAuth } from "../admin-auth.js";

const open: RequestHandler = (_req, _res, next) => next();

/** `GET /metrics` (Prometheus text) and `GET /metrics/redis` (JSON from INFO), for operators. */
export function createMetricsRouter(deps: {
  config: Config;
  metrics: Metrics;
  redis?: Redis;
  /** The cache's own Redis, when it is not `redis`. */
  cacheRedis?: Redis;
  audits?: RedisAudits;
  /** Job queues whose depths `/metrics/redis` reports (on the queue's Redis, which may be another one). */
  queues?: Array<Pick<JobQueue<unknown>, "name" | "depths">>;
  adminAuth: AdminAuth;
}): Router {
  const { config, metrics, redis, audits, queues = [] } = deps;
  const cacheRedis = deps.cacheRedis !== redis ? deps.cacheRedis : undefined;
  const lastError = redis ? trackRedisErrors(redis) : () => undefined;
  const notConnected = () => {
    const error = lastError() ? shortReason(lastError()) : "not connected";
    return error === "unavailable" ? "not connected" : error;
  };
  const auditOf = async (audit: RedisAudit | undefined) => {
    const report = (await audit?.current()) ?? audit?.latest();
    return report ? { audit: auditJson(report) } : {};
  };
  const cachePart = async () => {
    if (!cacheRedis) return {};
    const audit = await auditOf(audits?.cache);
    if (cacheRedis.status !== "ready") return { cache: { status: "unhealthy", ...audit } };
    try {
      const keys = await estimateKeyCounts(cacheRedis, { cache: keyNamespaces(config.keyPrefix).cache });
      return {
        cache: { status: "healthy", keys: { cache: keys.counts.cache ?? 0, total: keys.total }, ...audit },
      };
    } catch (err) {
      // The cache's Redis failing leaves the sessions' figures standing.
      const error = shortReason(err);
      return { cache: { status: "unhealthy", error, reason: reasonCode(error), ...audit } };
    }
  };
  // One queue's Redis failing leaves the other figures standing.
  const queuesPart = async () => {
    if (queues.length === 0) return {};
    const entries = await Promise.all(
      queues.map(async (queue) => {
        try {
          return [queue.name, { status: "healthy", ...(await queue.depths()) }] as const;
        } catch (err) {
          const error = shortReason(err);
          return [queue.name, { status: "unhealthy", error, reason: reasonCode(error) }] as const;
        }
      }),
    );
    return { queues: Object.fromEntries(entries) };
  };
  const admin = deps.adminAuth.require;
  const router = Router();

  router.get("/", config.metricsPublic ? open : admin, async (_req, res) => {
    const body = await metrics.render();
    res.type(metrics.contentType).send(body);
  });

  router.get("/redis", admin, async (_req, res) => {
    if (!redis) {
      res.json({ status: "not_configured" });
      return;
    }
    if (redis.status !== "ready") {
      const error = notConnected();
      res.status(503).json({
        status: "unhealthy",
        error,
        reason: reasonCode(error),
        ...(await auditOf(audits?.sessions)),
      });
      return;
    }
    try {
      const [body, audit, cache, jobs] = await within(
        Promise.all([
          readRedisMetrics(redis, config.keyPrefix),
          auditOf(audits?.sessions),
          cachePart(),
          queuesPart(),
        ]),
        config.health.checkTimeoutMs,
      );
      res.json({ ...body, ...audit, ...cache, ...jobs });
    } catch (err) {
      const error = shortReason(err);
      res.status(503).json({ status: "unhealthy", error, reason: reasonCode(error) });
    }
  });

  return router;
}
