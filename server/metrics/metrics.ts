import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { CheckResult } from "../health/shared-check.js";
import { clusterMetricsRender } from "../process/cluster-metrics.js";

/** Counts one cache category keeps since start (monotonic); what a cache's `stats()` can hand over. */
export interface CacheCategoryCounts {
  l1Hits: number;
  l2Hits: number;
  misses: number;
  stale: number;
}

/** Rejections per rate-limit policy since start (monotonic). */
export type RateLimitCounts = Record<string, { rejected: number }>;

type Labels = Record<string, string>;
type Sample = [Labels, number];

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequestDuration: Histogram<"method" | "route" | "status">;
  readonly loginsTotal: Counter;
  readonly loginFailuresTotal: Counter;
  readonly logoutsTotal: Counter;
  /**
   * Hook for the cache: `source` is read at every scrape and returns counts per category
   * (e.g. `() => cache.stats()` mapped to `CacheCategoryCounts`). Several sources add up.
   */
  addCacheSource(source: () => Record<string, CacheCategoryCounts>): void;
  /** Hook for rate limiting, pull style: read at every scrape. */
  addRateLimitSource(source: () => RateLimitCounts): void;
  /** Hook for rate limiting, push style: call once per rejected request. */
  rateLimitRejected(policy: string): void;
  /** How many sessions exist now; `undefined` when it cannot be told (the gauge is then left out). */
  setActiveSessionsSource(source: () => Promise<number | undefined>, store: "redis" | "memory"): void;
  /** Dependency checks behind the `dependency_up` gauges. */
  setHealthSource(source: () => Promise<Record<string, CheckResult>>): void;
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  readonly contentType: string;
}

export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]; // seconds

/**
 * A counter whose value is what was pushed with `inc` plus what registered sources report at scrape time:
 * capabilities that already keep their own tallies need not double-count into prom-client.
 */
function tallyCounter(registry: Registry, name: string, help: string, labelNames: string[]) {
  const pushed = new Map<string, Sample>();
  const sources: Array<() => Sample[]> = [];
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of pushed.values()) this.inc(labels, value);
      for (const source of sources) {
        let samples: Sample[];
        try {
          samples = source();
        } catch {
          continue; // A failing source must not break the whole scrape.
        }
        for (const [labels, value] of samples)
          if (Number.isFinite(value) && value > 0) this.inc(labels, value);
      }
    },
  });
  return {
    inc(labels: Labels) {
      const key = JSON.stringify(labels);
      const entry = pushed.get(key);
      if (entry) entry[1] += 1;
      else pushed.set(key, [labels, 1]);
    },
    addSource(source: () => Sample[]) {
      sources.push(source);
    },
  };
}

/**
 * One registry per app (never prom-client's global one), so several apps can live in one process.
 * `processMetrics` adds prom-client's default process and Node.js metrics to it.
 */
export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
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

  let activeSessions: (() => Promise<number | undefined>) | undefined;
  let sessionStore = "memory";
  new Gauge({
    name: "sessions_active",
    help: "Sessions stored now, by store (redis: estimated from a bounded key sample, see /metrics/redis)",
    // The label lets the series be absent when the count cannot be read, rather than a false 0.
    labelNames: ["store"],
    registers: [registry],
    aggregator: "max", // every worker reads the same store
    async collect() {
      this.reset();
      const count = await activeSessions?.().catch(() => undefined);
      if (count !== undefined) this.set({ store: sessionStore }, count);
    },
  });

  const cacheHits = tallyCounter(registry, "cache_hits_total", "Cache hits by category and tier (l1, l2)", [
    "category",
    "tier",
  ]);
  const cacheMisses = tallyCounter(registry, "cache_misses_total", "Cache misses by category", ["category"]);
  const cacheStale = tallyCounter(
    registry,
    "cache_stale_total",
    "Stale values served within grace, by category",
    ["category"],
  );
  const rateLimitRejections = tallyCounter(
    registry,
    "rate_limit_rejections_total",
    "Requests rejected with 429, by policy",
    ["policy"],
  );

  let health: (() => Promise<Record<string, CheckResult>>) | undefined;
  let lastHealth: Promise<Record<string, CheckResult>> | undefined;
  // Both gauges are filled from one round of checks per scrape.
  const healthRound = () => {
    lastHealth ??= (health?.() ?? Promise.resolve({})).finally(() => {
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

  return {
    registry,
    httpRequestDuration,
    loginsTotal,
    loginFailuresTotal,
    logoutsTotal,
    addCacheSource(source) {
      cacheHits.addSource(() =>
        Object.entries(source()).flatMap(([category, c]): Sample[] => [
          [{ category, tier: "l1" }, c.l1Hits],
          [{ category, tier: "l2" }, c.l2Hits],
        ]),
      );
      cacheMisses.addSource(() =>
        Object.entries(source()).map(([category, c]): Sample => [{ category }, c.misses]),
      );
      cacheStale.addSource(() =>
        Object.entries(source()).map(([category, c]): Sample => [{ category }, c.stale]),
      );
    },
    addRateLimitSource(source) {
      rateLimitRejections.addSource(() =>
        Object.entries(source()).map(([policy, c]): Sample => [{ policy }, c.rejected]),
      );
    },
    rateLimitRejected(policy) {
      rateLimitRejections.inc({ policy });
    },
    setActiveSessionsSource(source, store) {
      activeSessions = source;
      sessionStore = store;
    },
    setHealthSource(source) {
      health = source;
    },
    // In a cluster worker /metrics answers for every worker of the instance (summed by the primary).
    render: clusterMetricsRender(registry) ?? (() => registry.metrics()),
    contentType: registry.contentType,
  };
}
