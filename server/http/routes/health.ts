import { type Request, Router } from "express";
import { formatMb } from "../../domain/health/checks.js";
import { HEALTH_JSON, toHealthJson } from "../../domain/health/health-json.js";
import type { CompleteReport, HealthService, RedisReport } from "../../domain/health/health-service.js";
import { auditJson } from "../../infra/redis/audit.js";
import type { AdminAuth } from "../admin-auth.js";

/**
 * Probes; mounted before the session middleware so they never create or touch a session. `/health/redis`
 * and `/health/complete` show status and latency to anyone (a probe gets the same status code); the rest
 * (errors, the Redis version, memory, policy, persistence, role) only with the admin key, or to anyone
 * with HEALTH_DETAILS=public.
 */
export function createHealthRouter(deps: {
  health: HealthService;
  adminAuth: Pick<AdminAuth, "check">;
  detailsPublic: boolean;
}): Router {
  const { health, adminAuth, detailsPublic } = deps;
  const router = Router();
  const details = async (req: Request) => detailsPublic || (await adminAuth.check(req)) === "valid";

  // Liveness never touches a dependency: an outage must not make the platform restart every instance.
  router.get("/live", (_req, res) => {
    res.json({ status: "ok" });
  });

  router.get("/ready", async (_req, res) => {
    const report = await health.ready();
    const checks = Object.fromEntries(Object.entries(report.checks).map(([name, c]) => [name, c.status]));
    if (report.ready) {
      res.json({ status: "ready", checks });
    } else {
      res.status(503).json({
        status: "not_ready",
        reason: report.shuttingDown ? "shutting_down" : "dependency_unhealthy",
        checks,
      });
    }
  });

  router.get("/redis", async (req, res) => {
    const full = await details(req);
    const result = await health.redisDetail();
    if (!result) {
      res.json({ status: "not_configured" });
      return;
    }
    const sessions = redisJson(result.sessions, full);
    const cache = result.cache ? redisJson(result.cache, full) : undefined;
    if (sessions.status !== "healthy") {
      res.status(503).json({ ...sessions, ...(cache ? { cache } : {}) });
      return;
    }
    // The cache falls back to its in-process tier without its Redis: degraded, still serving.
    const status = cache && cache.status !== "healthy" ? "degraded" : "healthy";
    res.json({ ...sessions, status, ...(cache ? { cache } : {}) });
  });

  // The aggregate answer, also on the bare path that deployment guides and uptime tools poll.
  router.get(["/", "/complete"], async (req, res) => {
    const full = await details(req);
    const report = full ? await health.complete() : statusOnly(await health.complete());
    const status = report.status === "unhealthy" ? 503 : 200;
    res.vary("Accept");
    if (req.accepts(["application/json", HEALTH_JSON]) === HEALTH_JSON) {
      res.status(status).type(HEALTH_JSON).json(toHealthJson(report));
      return;
    }
    res.status(status).json(report);
  });

  return router;
}

/** The report with each check's status and latency only: what anyone may know. */
function statusOnly(report: CompleteReport): CompleteReport {
  const checks = Object.fromEntries(
    Object.entries(report.checks).flatMap(([name, c]) =>
      c ? [[name, { status: c.status, latency_ms: c.latency_ms }]] : [],
    ),
  ) as CompleteReport["checks"];
  return { ...report, checks };
}

/**
 * One Redis in `/health/redis`: the probe's answer and latency, and with `full` why it failed, its memory,
 * its primary and the latest audit.
 */
function redisJson(report: RedisReport, full: boolean) {
  const { check, audit } = report;
  if (!full) {
    return check.status === "healthy"
      ? {
          status: "healthy" as const,
          latency: `${check.latency_ms.toFixed(2)}ms`,
          latency_ms: check.latency_ms,
        }
      : { status: "unhealthy" as const };
  }
  const auditPart = audit ? { audit: auditJson(audit) } : {};
  if (check.status !== "healthy") {
    return {
      status: "unhealthy" as const,
      connected: "connected" in check ? check.connected : false,
      error: check.error,
      reason: check.reason ?? "unavailable",
      ...auditPart,
    };
  }
  const bytes = "used_memory_bytes" in check ? (check.used_memory_bytes ?? 0) : 0;
  return {
    status: "healthy" as const,
    connected: true,
    latency: `${check.latency_ms.toFixed(2)}ms`,
    latency_ms: check.latency_ms,
    used_memory: formatMb(bytes),
    used_memory_bytes: bytes,
    ...("primary" in check && check.primary ? { primary: check.primary } : {}),
    ...auditPart,
  };
}
