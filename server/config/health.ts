import { z } from "zod";
import { bool, int, type Report, type Values } from "./variables.js";

export const HEALTH_VARIABLES = {
  HEALTH_CHECK_TIMEOUT_MS: int(50, 60_000).default(2000), // bound on each dependency check and so on each probe
  HEALTH_REQUIRED: z
    .string()
    .regex(
      /^(none|(database|redis|openai)(\s*,\s*(database|redis|openai))*)$/,
      "must be 'none' or a comma-separated list of database, redis, openai",
    )
    .optional(), // dependencies whose failure fails readiness; default database (and redis when configured)
  HEALTH_OPENAI_CACHE_SECONDS: int(0, 86_400).default(60), // how long an OpenAI (or sign-in provider) check result is reused
  METRICS_PUBLIC: bool.default(false), // serve /metrics without the admin token
  HEALTH_DETAILS: z.enum(["admin", "public"]).default("admin"), // who sees /health/redis and /health/complete beyond status and latency
  SHUTDOWN_DELAY_MS: int(0, 600_000).optional(), // after SIGTERM, readiness fails this long while requests are served
  SHUTDOWN_TIMEOUT_MS: int(0).optional(), // unset: 10 s, or sized from RAILWAY_DEPLOYMENT_DRAINING_SECONDS
};

export const HEALTH_DEPENDENCIES = ["database", "redis", "openai"] as const;
export type HealthDependency = (typeof HEALTH_DEPENDENCIES)[number];

// Long enough for a load balancer probing every few seconds to see readiness fail before we stop listening.
const PRODUCTION_SHUTDOWN_DELAY_MS = 5000;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
// Of the platform's draining time, kept back for closing Redis and the database and exiting.
const SHUTDOWN_RESERVE_MS = 2000;

/** Health probes, metrics access and the graceful shutdown. */
export function healthConfig(
  v: Values<typeof HEALTH_VARIABLES>,
  deps: { isProduction: boolean; drainingSeconds?: number; hasRedis: boolean; hasOpenAI: boolean },
  report: Report,
) {
  const shutdown = sizeShutdown(v, deps, report.warnings);
  return {
    health: {
      /** Bound on each dependency check and so on every probe's answer (ms). */
      checkTimeoutMs: v.HEALTH_CHECK_TIMEOUT_MS,
      /** Dependencies whose failure makes readiness and /health/complete answer 503; only configured ones. */
      required: healthRequired(v.HEALTH_REQUIRED, deps, report.problems),
      openaiCacheSeconds: v.HEALTH_OPENAI_CACHE_SECONDS,
    },
    /** Show every health detail (errors, Redis version, memory, policy, persistence, role) to anyone. */
    healthDetailsPublic: v.HEALTH_DETAILS === "public",
    /** Serve GET /metrics without the admin bearer token. */
    metricsPublic: v.METRICS_PUBLIC,
    /** After SIGTERM, how long readiness reports 503 while requests are still served (ms). */
    shutdownDelayMs: shutdown.delayMs,
    shutdownTimeoutMs: shutdown.timeoutMs,
  };
}

export type HealthConfig = ReturnType<typeof healthConfig>;

/**
 * The default (database, redis) only counts Redis when it is configured, so the embedded mode stays ready;
 * naming a dependency that is not configured is an error rather than a probe that can never pass.
 */
function healthRequired(
  value: string | undefined,
  deps: { hasRedis: boolean; hasOpenAI: boolean },
  problems: string[],
): HealthDependency[] {
  if (value === undefined) return deps.hasRedis ? ["database", "redis"] : ["database"];
  if (value === "none") return [];
  const names = [...new Set(value.split(",").map((s) => s.trim() as HealthDependency))];
  if (names.includes("redis") && !deps.hasRedis) {
    problems.push("HEALTH_REQUIRED: names redis but no Redis is configured (set REDIS_URL)");
  }
  if (names.includes("openai") && !deps.hasOpenAI) {
    problems.push("HEALTH_REQUIRED: names openai but OPENAI_API_KEY is not set");
  }
  return names;
}

/**
 * SIGTERM-to-SIGKILL budget: when the platform announces its draining time, unset delay and timeout are
 * sized to fit in it (a third of what is left for the delay, the rest for in-flight requests).
 */
function sizeShutdown(
  v: Values<typeof HEALTH_VARIABLES>,
  deps: { isProduction: boolean; drainingSeconds?: number },
  warnings: string[],
): { delayMs: number; timeoutMs: number } {
  const defaultDelay = deps.isProduction ? PRODUCTION_SHUTDOWN_DELAY_MS : 0;
  const { drainingSeconds } = deps;
  if (drainingSeconds === undefined) {
    return {
      delayMs: v.SHUTDOWN_DELAY_MS ?? defaultDelay,
      timeoutMs: v.SHUTDOWN_TIMEOUT_MS ?? DEFAULT_SHUTDOWN_TIMEOUT_MS,
    };
  }
  const budget = Math.max(0, drainingSeconds * 1000 - SHUTDOWN_RESERVE_MS); // ms
  if (drainingSeconds === 0) {
    warnings.push(
      "RAILWAY_DEPLOYMENT_DRAINING_SECONDS=0: the platform kills the process right after SIGTERM, so in-flight requests are cut; set the service's draining time (drainingSeconds) to 15 or more",
    );
  }
  const delayMs = v.SHUTDOWN_DELAY_MS ?? Math.min(defaultDelay, Math.floor(budget / 3));
  const timeoutMs = v.SHUTDOWN_TIMEOUT_MS ?? Math.max(0, budget - delayMs);
  if (drainingSeconds > 0 && delayMs + timeoutMs > drainingSeconds * 1000) {
    warnings.push(
      `SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS (${delayMs + timeoutMs} ms) exceed RAILWAY_DEPLOYMENT_DRAINING_SECONDS (${drainingSeconds} s): the platform kills the process before the shutdown ends`,
    );
  }
  return { delayMs, timeoutMs };
}
