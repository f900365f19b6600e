import { type Request, type Response, Router } from "express";
import { z } from "zod";
import type { Cache } from "../../domain/cache/cache.js";
import { HttpError } from "../../lib/errors.js";
import type { AdminAuth } from "../admin-auth.js";
import { jsonBody } from "../body.js";
import { parseBody } from "../validate.js";

/** `POST /api/cache/invalidate`; the category is then checked against the configured ones. */
export const invalidateSchema = z.object(
  { category: z.string({ error: 'category must be "all" or a configured cache category' }).max(64) },
  { error: "The body must be a JSON object with category" },
);

/** The admin view of the cache: Redis key count (from the maintained index) plus this process's counters. */
export async function cacheMetrics(cache: Cache) {
  const stats = cache.stats();
  const counts = await cache.keyCounts();
  return {
    redis: {
      // Live values as counted by the per-category index (no KEYS/SCAN); null when Redis is absent or down.
      total_keys: counts?.total ?? null,
      pattern: cache.keys.pattern,
      keys_by_category: counts?.byCategory ?? null,
      mode: stats.l2.mode,
      breaker: stats.l2.breaker,
      subscriber: stats.l2.subscriber,
    },
    l1: stats.l1,
    metrics: stats.categories,
  };
}

/**
 * `/api/cache/metrics`, `/api/cache/invalidate`: operator endpoints behind the admin bearer token.
 * Mounted before the session middleware: operators use the token, never a login.
 */
export function createCacheAdminRouter(deps: { cache: Cache; adminAuth: AdminAuth }): Router {
  const { cache } = deps;
  const router = Router();
  router.use(deps.adminAuth.require);

  const metrics = async (_req: Request, res: Response) => {
    res.json(await cacheMetrics(cache));
  };
  router.get("/metrics", metrics);
  // Existing dashboards read the metrics from this path.
  router.get("/invalidate", async (req, res) => {
    if (req.query.metrics !== "true") {
      throw new HttpError("invalid_request", {
        message: "Use POST to invalidate, or GET with ?metrics=true to read the metrics",
        details: { field: "metrics" },
      });
    }
    await metrics(req, res);
  });

  router.post("/invalidate", jsonBody(), async (req, res) => {
    // A body that is no object at all is reported against `category` too: it is the one field.
    const body: unknown = req.body;
    const { category } = parseBody(
      invalidateSchema,
      body && typeof body === "object" && !Array.isArray(body) ? body : {},
    );
    if (category !== "all" && !cache.categories.includes(category)) {
      throw new HttpError("invalid_request", {
        message: `category must be "all" or one of: ${cache.categories.join(", ")}`,
        details: { field: "category" },
      });
    }
    const result = await cache.invalidate(category);
    if (result.redis === "unavailable") {
      // Only this instance's L1 was dropped; the others keep serving the old values until Redis is back.
      throw new HttpError("service_unavailable", {
        message: "Redis is unavailable: only this instance's in-process cache was cleared; retry shortly",
        details: { invalidated: result.categories, redis: result.redis },
      });
    }
    res.json({ invalidated: result.categories, redis: result.redis });
  });
  return router;
}
