import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { JobQueue } from "../../infra/jobs/queue.js";
import type { Cache } from "../cache/cache.js";
import type { HealthService } from "../health/health-service.js";
import type { CheckResult } from "../health/shared-check.js";

type Labels = Record<string, string>;
type Sample = [Labels, number];

/** The services the registry reads at every scrape; an absent one leaves its series out. */
export interface MetricsSources {
  /** Per-category hit, miss and stale counters (monotonic, kept by the cache itself). */
  cache?: Pick<Cache, "stats">;
  /** Dependency checks behind the `dependency_up` gauges. */
  health?: Pick<HealthService, "complete">;
  /** How many sessions exist now; `undefined` when it cannot be told (the gauge is then left out). */
  sessions?: { store: "redis" | "memory"; count(): Promise<number | undefined> };
  /** Durable session records: restores, misses that found nothing, database statements (monotonic). */
  durableSessions?: {
    stats(): { restores: number; misses: number; queries: number; fallbackReads: number };
  };
  /** Job queues whose depths are read at each scrape (bounded by the caller). */
  queues?: Array<Pick<JobQueue<unknown>, "name" | "depths">>;
}

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequestDuration: Histogram<"method" | "route" | "status">;
  readonly loginsTotal: Counter;
  readonly loginFailuresTotal: Counter;
  readonly logoutsTotal: Counter;
  /** Call once per rejected request. */
  rateLimitRejected(policy: string): void;
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  readonly contentType: string;
}

export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]; // seconds

/**
 * A counter whose value is read at scrape time from a service that keeps its own tallies, so nothing is
 * counted twice. A failing source leaves its series out instead of breaking the whole scrape.
 */
function readCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => Sample[],
) {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      let samples: Sample[];
      try {
        samples = read();
      } catch {
        return;
      }
      for (const [labels, value] of samples) if (Number.isFinite(value) && value > 0) this.inc(labels, value);
    },
  });
}

/**
 * One registry per app (never prom-client's global one), so several apps can live in one process.
 * `processMetrics` adds prom-client's default process and Node.js metrics to it.
 */
export function createMetrics(
  options: {
    processMetrics?: boolean;
    /** Renders the whole instance's metrics from this registry (a cluster worker asks its primary). */
    render?: (registry: Registry) => (() => Promise<string>) | undefined;
  } & MetricsSources = {},
): Metrics {
  const { cache, health, sessions, durableSessions, queues = [] } = options;
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  const httpRequestDuration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by method, matched route pattern and status code",
    labelNames: ["method", "route", "status"] as const,
    buckets: HTTP_DURATION_BUCKETS,
    registers: [registry],
  });
  const loginsTotal = new Counter({
    name: "auth_logins_total",
    help: "Successful logins (registrations included)",
    registers: [registry],
  });
  const loginFailuresTotal = new Counter({
    name: "auth_login_failures_total",
    help: "Logins refused for a wrong email or password",
    registers: [registry],
  });
  const logoutsTotal = new Counter({
    name: "auth_logouts_total",
    help: "Logouts of a logged-in session",
    registers: [registry],
  });

  new Gauge({
    name: "sessions_active",
    help: "Sessions stored now, by store (redis: estimated from a bounded key sample, see /metrics/redis)",
    // The label lets the series be absent when the count cannot be read, rather than a false 0.
    labelNames: ["store"],
    registers: [registry],
    aggregator: "max", // every worker reads the same store
    async collect() {
      this.reset();
      const count = await sessions?.count().catch(() => undefined);
      if (sessions && count !== undefined) this.set({ store: sessions.store }, count);
    },
  });

  const categories = () => Object.entries(cache?.stats().categories ?? {});
  readCounter(
    registry,
    "cache_hits_total",
    "Cache hits by category and tier (l1, l2)",
    ["category", "tier"],
    () =>
      categories().flatMap(([category, c]): Sample[] => [
        [{ category, tier: "l1" }, c.hitsL1],
        [{ category, tier: "l2" }, c.hitsL2],
      ]),
  );
  readCounter(registry, "cache_misses_total", "Cache misses by category", ["category"], () =>
    categories().map(([category, c]): Sample => [{ category }, c.misses]),
  );
  readCounter(
    registry,
    "cache_stale_total",
    "Stale values served within grace, by category",
    ["category"],
    () => categories().map(([category, c]): Sample => [{ category }, c.stale]),
  );
  if (durableSessions) {
    type Stats = ReturnType<NonNullable<MetricsSources["durableSessions"]>["stats"]>;
    const durable = (name: string, help: string, pick: (s: Stats) => number) =>
      readCounter(registry, name, help, [], () => [[{}, pick(durableSessions.stats())]]);
    durable(
      "session_restores_total",
      "Sessions missing in Redis restored from their durable record",
      (s) => s.restores,
    );
    durable(
      "session_restore_misses_total",
      "Signed session ids missing in Redis with no usable durable record (none, expired, revoked)",
      (s) => s.misses,
    );
    durable(
      "session_fallback_reads_total",
      "Signed-in requests served from the durable record while Redis was unreachable (SESSION_FALLBACK=database)",
      (s) => s.fallbackReads,
    );
    durable(
      "session_durable_queries_total",
      "Database statements sent for durable session records (writes, restores, revocations, sweeps)",
      (s) => s.queries,
    );
  }
  const rateLimitRejections = new Counter({
    name: "rate_limit_rejections_total",
    help: "Requests rejected with 429, by policy",
    labelNames: ["policy"],
    registers: [registry],
  });

  let lastHealth: Promise<Record<string, CheckResult>> | undefined;
  // Both gauges are filled from one round of checks per scrape.
  const healthRound = () => {
    lastHealth ??= (
      health ? health.complete().then((r) => r.checks as Record<string, CheckResult>) : Promise.resolve({})
    ).finally(() => {
      lastHealth = undefined;
    });
    return lastHealth;
  };
  new Gauge({
    name: "dependency_up",
    help: "1 when the dependency's health check passes, 0 when it fails; absent when not configured",
    labelNames: ["dependency"],
    registers: [registry],
    aggregator: "min", // down for one worker is down for the instance
    async collect() {
      this.reset();
      for (const [name, check] of Object.entries(await healthRound())) {
        if (check.status !== "not_configured")
          this.set({ dependency: name }, check.status === "healthy" ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: "dependency_check_duration_seconds",
    help: "Duration of the last health check of each dependency",
    labelNames: ["dependency"],
    registers: [registry],
    aggregator: "max",
    async collect() {
      this.reset();
      for (const [name, check] of Object.entries(await healthRound())) {
        if (check.status !== "not_configured") this.set({ dependency: name }, check.latency_ms / 1000);
      }
    },
  });

  new Gauge({
    name: "queue_jobs",
    help: "Jobs in each state of each job queue (waiting, active, delayed, failed, completed); absent when unreadable",
    labelNames: ["queue", "state"],
    registers: [registry],
    aggregator: "max", // every worker of the instance reads the same queue
    async collect() {
      this.reset();
      await Promise.all(
        queues.map(async (queue) => {
          const depths = await queue.depths().catch(() => undefined);
          if (!depths) return;
          for (const [state, count] of Object.entries(depths)) this.set({ queue: queue.name, state }, count);
        }),
      );
    },
  });

  return {
    registry,
    httpRequestDuration,
    loginsTotal,
    loginFailuresTotal,
    logoutsTotal,
    rateLimitRejected(policy) {
      rateLimitRejections.inc({ policy });
    },
    // In a cluster worker /metrics answers for every worker of the instance (summed by the primary).
    render: options.render?.(registry) ?? (() => registry.metrics()),
    contentType: registry.contentType,
  };
}
