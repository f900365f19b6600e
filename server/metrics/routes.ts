import { type RequestHandler, Router } from "express";
import type { Config } from "../config/config.js";
import { shortReason } from "../health/checks.js";
import { within } from "../health/shared-check.js";
import { requireAdmin } from "../http/admin-auth.js";
import type { Redis } from "../redis/redis-client.js";
import type { Metrics } from "./metrics.js";
import { readRedisMetrics } from "./redis-metrics.js";

const open: RequestHandler = (_req, _res, next) => next();

/** `GET /metrics` (Prometheus text) and `GET /metrics/redis` (JSON from INFO), for operators. */
export function createMetricsRouter(deps: { config: Config; metrics: Metrics; redis?: Redis }): Router {
  const { config, metrics, redis } = deps;
  const admin = requireAdmin(config.adminApiKey);
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
      res.status(503).json({ status: "unhealthy", error: "not connected" });
      return;
    }
    try {
      res.json(await within(readRedisMetrics(redis, config.keyPrefix), config.health.checkTimeoutMs));
    } catch (err) {
      res.status(503).json({ status: "unhealthy", error: shortReason(err) });
    }
  });

  return router;
}
