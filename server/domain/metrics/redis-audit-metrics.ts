import { Gauge, type Registry } from "prom-client";
import type { RedisAuditReport, RedisAudits } from "../../infra/redis/audit.js";

type Label = "redis";

/**
 * Prometheus gauges from the Redis fitness audit, labelled `redis="sessions"` or `redis="cache"`. Each
 * scrape reads the cached audit (a new one only once the last is older than REDIS_AUDIT_INTERVAL_MS).
 */
export function registerRedisAuditMetrics(registry: Registry, audits: RedisAudits): void {
  const sources = [audits.sessions, audits.cache].filter((a) => a !== undefined);
  if (sources.length === 0) return;
  let round: Promise<RedisAuditReport[]> | undefined;
  // All gauges of one scrape share one read of the audits.
  const reports = () => {
    round ??= Promise.all(sources.map(async (a) => (await a.current()) ?? a.latest()))
      .then((all) => all.filter((r): r is RedisAuditReport => r !== undefined))
      .finally(() => {
        setImmediate(() => {
          round = undefined;
        });
      });
    return round;
  };

  const gauge = (name: string, help: string, value: (r: RedisAuditReport) => number | null) =>
    new Gauge<Label>({
      name,
      help,
      labelNames: ["redis"],
      registers: [registry],
      aggregator: "max", // in a cluster every worker audits the same Redis
      async collect() {
        this.reset();
        for (const r of await reports()) {
          const v = value(r);
          if (v !== null) this.set({ redis: r.purpose }, v);
        }
      },
    });

  gauge(
    "redis_memory_used_bytes",
    "Redis used_memory (summed over a cluster's masters)",
    (r) => r.used_memory_bytes,
  );
  gauge("redis_memory_max_bytes", "Redis maxmemory; 0 means no limit", (r) => r.maxmemory_bytes);
  gauge(
    "redis_memory_used_ratio",
    "Redis used_memory / maxmemory (the fullest master); absent without a limit",
    (r) => r.memory_used_ratio,
  );
  gauge(
    "redis_evicted_keys",
    "Redis evicted_keys since it started (INFO stats); any growth on the sessions' Redis logs users out",
    (r) => r.evicted_keys,
  );
  gauge(
    "redis_eviction_policy_safe",
    "1 when the memory policy cannot evict what this Redis holds (sessions: noeviction; cache: any)",
    (r) => (r.policy_safe ? 1 : 0),
  );
  gauge(
    "redis_persistence_enabled",
    "1 when AOF is on or an RDB snapshot was written since Redis started",
    (r) => (r.persistence === "none" ? 0 : 1),
  );
  gauge("redis_memory_full", "1 when Redis is at maxmemory with noeviction: writes are refused (OOM)", (r) =>
    r.full ? 1 : 0,
  );
  gauge("redis_audit_timestamp_seconds", "When the Redis audit last succeeded (Unix time)", (r) =>
    Math.floor(Date.parse(r.at) / 1000),
  );
  new Gauge<"redis" | "version" | "role" | "maxmemory_policy" | "persistence">({
    name: "redis_audit_info",
    help: "Redis version, role, memory policy and persistence as labels (value 1)",
    labelNames: ["redis", "version", "role", "maxmemory_policy", "persistence"],
    registers: [registry],
    aggregator: "max",
    async collect() {
      this.reset();
      for (const r of await reports()) {
        this.set(
          {
            redis: r.purpose,
            version: r.version,
            role: r.role,
            maxmemory_policy: r.maxmemory_policy,
            persistence: r.persistence,
          },
          1,
        );
      }
    },
  });
}
