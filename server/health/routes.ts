import { Router } from "express";
import { formatMb } from "./checks.js";
import { HEALTH_JSON, toHealthJson } from "./health-json.js";
import type { HealthService } from "./health-service.js";

/** Probes; mounted before the session middleware so they never create or touch a session. */
export function createHealthRouter(deps: { health: HealthService }): Router {
  const { health } = deps;
  const router = Router();

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

  router.get("/redis", async (_req, res) => {
    const result = await health.redisDetail();
    if (!result) {
      res.json({ status: "not_configured" });
      return;
    }
    if (result.status !== "healthy") {
      res.status(503).json({
        status: "unhealthy",
        connected: "connected" in result ? result.connected : false,
        error: result.error,
      });
      return;
    }
    const bytes = "used_memory_bytes" in result ? (result.used_memory_bytes ?? 0) : 0;
    res.json({
      status: "healthy",
      connected: true,
      latency: `${result.latency_ms.toFixed(2)}ms`,
      latency_ms: result.latency_ms,
      used_memory: formatMb(bytes),
      used_memory_bytes: bytes,
    });
  });

  // The aggregate answer, also on the bare path that deployment guides and uptime tools poll.
  router.get(["/", "/complete"], async (req, res) => {
    const report = await health.complete();
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
