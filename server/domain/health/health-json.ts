import type { HealthDependency } from "../../config/config.js";
import type { CompleteReport } from "./health-service.js";

/** The media type of draft-inadarei-api-health-check ("Health Check Response Format for HTTP APIs"). */
export const HEALTH_JSON = "application/health+json";

const STATUS = { healthy: "pass", degraded: "warn", unhealthy: "fail" } as const;
const COMPONENT_TYPE: Record<HealthDependency | "redis_cache", string> = {
  database: "datastore",
  redis: "datastore",
  redis_cache: "datastore",
  openai: "system",
};

export interface HealthJson {
  status: "pass" | "warn" | "fail";
  description: string;
  checks: Record<
    string,
    Array<{
      componentType: string;
      observedValue: number;
      observedUnit: "ms";
      status: "pass" | "fail";
      time: string;
      output?: string;
    }>
  >;
  notes?: string[];
}

/** `/health/complete` in the draft's shape: pass/warn/fail, checks keyed `component:measurement`. */
export function toHealthJson(report: CompleteReport): HealthJson {
  const checks: HealthJson["checks"] = {};
  const notes: string[] = [];
  for (const [name, check] of Object.entries(report.checks) as Array<
    [HealthDependency | "redis_cache", CompleteReport["checks"][HealthDependency]]
  >) {
    // The draft has no "not configured" status; leaving the component out and saying why is the honest option.
    if (check.status === "not_configured") {
      notes.push(`${name}: not configured`);
      continue;
    }
    checks[`${name}:responseTime`] = [
      {
        componentType: COMPONENT_TYPE[name] ?? "component",
        observedValue: check.latency_ms,
        observedUnit: "ms",
        status: check.status === "healthy" ? "pass" : "fail",
        time: report.timestamp,
        ...(check.error ? { output: check.error } : {}),
      },
    ];
  }
  if (report.sessions.serving === "database") {
    notes.push("sessions: served from the database while Redis is unreachable (SESSION_FALLBACK=database)");
  }
  return {
    status: STATUS[report.status],
    description: "database, redis and openai dependencies, and the job queues",
    checks,
    ...(notes.length > 0 ? { notes } : {}),
  };
}
