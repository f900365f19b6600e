import { within } from "../../lib/within.js";
import type { Logger } from "../logging/logger.js";
import type { Redis } from "./redis-client.js";
import { dataNodes, parseInfo } from "./redis-info.js";

/** What a Redis holds: sessions (and everything else) must never be evicted; a cache may be. */
export type RedisPurpose = "sessions" | "cache";

export type Persistence = "aof" | "rdb" | "none";

/** One data node's fitness, read from `INFO` only (managed Redis often refuses `CONFIG`). */
export interface NodeAudit {
  version: string;
  role: string;
  maxmemory_bytes: number;
  maxmemory_policy: string;
  used_memory_bytes: number;
  /** Used memory as a share of `maxmemory`; null when Redis has no limit. */
  memory_used_ratio: number | null;
  evicted_keys: number;
  aof_enabled: boolean;
  aof_last_write_status: string;
  rdb_last_bgsave_status: string;
  /** RDB snapshots written since Redis started (INFO cannot tell whether `save` rules exist). */
  rdb_saves: number;
  persistence: Persistence;
  /** `noeviction` and at or above `maxmemory`: every write is refused with OOM. */
  full: boolean;
}

export interface AuditFinding {
  code: "evicting_policy" | "no_persistence" | "persistence_failing" | "memory_full" | "keys_evicted";
  severity: "warn" | "error";
  message: string;
}

/** One Redis as a whole: every node's figures combined (sums, the fullest share, the weakest persistence). */
export interface RedisAuditReport
  extends Pick<
    NodeAudit,
    "version" | "role" | "maxmemory_bytes" | "used_memory_bytes" | "evicted_keys" | "persistence" | "full"
  > {
  purpose: RedisPurpose;
  /** ISO 8601 time of this audit. */
  at: string;
  nodes: NodeAudit[];
  /** The one policy, or a comma-separated list when a cluster's masters disagree. */
  maxmemory_policy: string;
  /** The fullest node's share; null when no node has a limit. */
  memory_used_ratio: number | null;
  /** Keys evicted since the previous audit of this process (0 on the first one). */
  evicted_keys_growth: number;
  /** True when this Redis keeps what it holds: for sessions `noeviction`, for a cache any policy. */
  policy_safe: boolean;
  findings: AuditFinding[];
}

const EVICTING = /^(allkeys|volatile)-/;
const FIX_POLICY =
  "set maxmemory-policy noeviction on the sessions' Redis (on Railway: the Redis service's start command, e.g. `redis-server --maxmemory-policy noeviction --appendonly yes ...`), or put the cache in a separate, evicting Redis with CACHE_REDIS_URL";
const FIX_PERSISTENCE =
  "enable AOF (`--appendonly yes`, on a volume) or at least RDB snapshots on the sessions' Redis";

function num(info: Record<string, string>, name: string): number {
  const n = Number(info[name]);
  return Number.isFinite(n) ? n : 0;
}

/** Reads one node's INFO into the fields the audit judges. */
export function nodeAudit(info: Record<string, string>): NodeAudit {
  const maxmemory = num(info, "maxmemory");
  const used = num(info, "used_memory");
  const policy = info.maxmemory_policy ?? "unknown";
  const aof = info.aof_enabled === "1";
  const rdbSaves = num(info, "rdb_saves");
  // A snapshot written since start is the only proof INFO gives that RDB saving is configured.
  const rdbSeen = rdbSaves > 0 || num(info, "rdb_last_bgsave_time_sec") >= 0;
  return {
    version: info.redis_version ?? "unknown",
    role: info.role ?? "unknown",
    maxmemory_bytes: maxmemory,
    maxmemory_policy: policy,
    used_memory_bytes: used,
    memory_used_ratio: maxmemory > 0 ? Math.round((used / maxmemory) * 10_000) / 10_000 : null,
    evicted_keys: num(info, "evicted_keys"),
    aof_enabled: aof,
    aof_last_write_status: info.aof_last_write_status ?? "unknown",
    rdb_last_bgsave_status: info.rdb_last_bgsave_status ?? "unknown",
    rdb_saves: rdbSaves,
    persistence: aof ? "aof" : rdbSeen ? "rdb" : "none",
    full: maxmemory > 0 && used >= maxmemory && policy === "noeviction",
  };
}

/** Judges the nodes for a purpose; `previous` gives the eviction growth. */
export function judge(
  purpose: RedisPurpose,
  nodes: NodeAudit[],
  previous?: RedisAuditReport,
  /** Sessions have durable records in the database (SESSION_DURABLE): a lost one is restored. */
  durable = false,
): RedisAuditReport {
  const policies = [...new Set(nodes.map((n) => n.maxmemory_policy))];
  const evicted = nodes.reduce((s, n) => s + n.evicted_keys, 0);
  // A restarted Redis starts counting from 0 again.
  const growth = previous && evicted >= previous.evicted_keys ? evicted - previous.evicted_keys : 0;
  const ratios = nodes.map((n) => n.memory_used_ratio).filter((r): r is number => r !== null);
  const persistence: Persistence = nodes.some((n) => n.persistence === "none")
    ? "none"
    : nodes.some((n) => n.persistence === "rdb")
      ? "rdb"
      : "aof";
  const evicting = policies.some((p) => EVICTING.test(p));
  const full = nodes.some((n) => n.full);
  const findings: AuditFinding[] = [];
  if (purpose === "sessions") {
    if (evicting) {
      findings.push({
        code: "evicting_policy",
        severity: "error",
        message: durable
          ? `Redis maxmemory-policy is ${policies.join(",")}: sessions will be evicted under memory pressure. They are protected: each is restored from its durable record in the database on its next request, at the cost of two database queries per restored session (and an eviction still drops session data larger than SESSION_DURABLE_MAX_BYTES). To avoid that load: ${FIX_POLICY}`
          : `Redis maxmemory-policy is ${policies.join(",")}: sessions will be evicted, so users get logged out under memory pressure. Fix: ${FIX_POLICY}`,
      });
    }
    if (persistence === "none") {
      findings.push({
        code: "no_persistence",
        severity: "warn",
        message: durable
          ? `Redis has AOF off and has written no RDB snapshot since it started: a Redis restart empties it. Sessions are protected (restored from their durable records, two database queries each, on their next request). To avoid that load: ${FIX_PERSISTENCE}`
          : `Redis has AOF off and has written no RDB snapshot since it started: a Redis restart logs every user out. Fix: ${FIX_PERSISTENCE}`,
      });
    }
    if (growth > 0) {
      findings.push({
        code: "keys_evicted",
        severity: "error",
        message: durable
          ? `Redis evicted ${growth} keys since the last audit: evicted sessions are restored from their durable records (two database queries each). To avoid that load: ${FIX_POLICY}`
          : `Redis evicted ${growth} keys since the last audit: users are being logged out. Fix: ${FIX_POLICY}`,
      });
    }
  }
  if (nodes.some((n) => n.rdb_last_bgsave_status === "err" || n.aof_last_write_status === "err")) {
    findings.push({
      code: "persistence_failing",
      severity: "error",
      message:
        "Redis cannot write its RDB snapshot or AOF (rdb_last_bgsave_status/aof_last_write_status is err): it may refuse writes (MISCONF) and a restart loses data. Fix: check the Redis volume's free space and permissions",
    });
  }
  if (full) {
    findings.push({
      code: "memory_full",
      severity: "error",
      message: `Redis is at maxmemory with noeviction: every write is refused (OOM), so ${purpose === "sessions" ? "logins and session updates fail with 503" : "the cache cannot store anything"}. Fix: raise maxmemory, free memory, or move the cache to CACHE_REDIS_URL`,
    });
  }
  return {
    purpose,
    at: new Date().toISOString(),
    nodes,
    version: nodes.map((n) => n.version).sort()[0] ?? "unknown",
    role: [...new Set(nodes.map((n) => n.role))].join(","),
    maxmemory_bytes: nodes.reduce((s, n) => s + n.maxmemory_bytes, 0),
    maxmemory_policy: policies.join(","),
    used_memory_bytes: nodes.reduce((s, n) => s + n.used_memory_bytes, 0),
    memory_used_ratio: ratios.length > 0 ? Math.max(...ratios) : null,
    evicted_keys: evicted,
    evicted_keys_growth: growth,
    persistence,
    policy_safe: purpose === "cache" || !evicting,
    full,
    findings,
  };
}

/** `INFO` of every data node (every master of a cluster). */
export async function readNodes(redis: Redis): Promise<NodeAudit[]> {
  const texts = await Promise.all(dataNodes(redis).map((node) => node.info()));
  return texts.map((text) => nodeAudit(parseInfo(text)));
}

export interface RedisAudit {
  readonly purpose: RedisPurpose;
  /** The last finished audit, if any. */
  latest(): RedisAuditReport | undefined;
  /** The last audit if younger than the interval, else a new one (one at a time); undefined if it failed. */
  current(): Promise<RedisAuditReport | undefined>;
  /** Audits now, then every interval; findings are logged when they appear and when they clear. */
  start(): Promise<void>;
  stop(): void;
}

/** Periodic, cached fitness audit of one Redis: never runs per request. */
export function createRedisAudit(deps: {
  redis: Redis;
  purpose: RedisPurpose;
  /** Sessions have durable records (SESSION_DURABLE): findings say a lost session is restored. */
  durable?: boolean;
  logger: Logger;
  intervalMs: number;
  timeoutMs: number;
}): RedisAudit {
  const { redis, purpose, intervalMs, timeoutMs } = deps;
  const log = deps.logger.child({ component: "redis-audit", redis: purpose });
  let last: RedisAuditReport | undefined;
  let lastAt = 0;
  let running: Promise<RedisAuditReport | undefined> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let logged = new Set<AuditFinding["code"]>();

  const report = (next: RedisAuditReport) => {
    const codes = new Set(next.findings.map((f) => f.code));
    for (const f of next.findings) {
      // Evictions are news every time they grow; the rest only when they appear.
      if (logged.has(f.code) && f.code !== "keys_evicted") continue;
      const fields = { code: f.code, maxmemory_policy: next.maxmemory_policy, persistence: next.persistence };
      if (f.severity === "error") log.error(fields, f.message);
      else log.warn(fields, f.message);
    }
    for (const code of logged) {
      if (!codes.has(code) && code !== "keys_evicted") log.info({ code }, "Redis audit: resolved");
    }
    if (!last) {
      log.info(
        {
          version: next.version,
          role: next.role,
          maxmemory_bytes: next.maxmemory_bytes,
          maxmemory_policy: next.maxmemory_policy,
          memory_used_ratio: next.memory_used_ratio,
          persistence: next.persistence,
        },
        "Redis audit",
      );
    }
    logged = codes;
  };

  const audit = async (): Promise<RedisAuditReport | undefined> => {
    if (redis.status !== "ready") return undefined;
    try {
      const nodes = await within(readNodes(redis), timeoutMs);
      const next = judge(purpose, nodes, last, deps.durable);
      report(next);
      last = next;
      lastAt = Date.now();
      return next;
    } catch (err) {
      log.debug({ err: { message: (err as Error).message } }, "Redis audit failed");
      return undefined;
    }
  };

  // One audit at a time; cleared in a later tick, so even an audit that returns at once is not kept.
  const run = (): Promise<RedisAuditReport | undefined> => {
    if (running) return running;
    const promise = audit().finally(() => {
      if (running === promise) running = undefined;
    });
    running = promise;
    return promise;
  };

  // A (re)connection may reach another server (a failover, a restart with other settings): audit it now.
  const onReady = () => void run();

  return {
    purpose,
    latest: () => last,
    current() {
      // Once started, the timer keeps the audit fresh: a request never waits for INFO.
      if (last && (timer || Date.now() - lastAt < intervalMs)) return Promise.resolve(last);
      return run();
    },
    async start() {
      if (timer) return;
      timer = setInterval(() => void run(), intervalMs);
      timer.unref();
      redis.on("ready", onReady);
      await run();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      redis.off("ready", onReady);
    },
  };
}

/** The audit as `/health/redis` and `/metrics/redis` show it (per node only for a cluster). */
export function auditJson(report: RedisAuditReport) {
  const { nodes, findings, purpose: _purpose, at, ...summary } = report;
  return {
    ...summary,
    audited_at: at,
    warnings: findings.map((f) => ({ code: f.code, severity: f.severity, message: f.message })),
    ...(nodes.length > 1 ? { nodes } : {}),
  };
}

export interface RedisAudits {
  sessions?: RedisAudit;
  /** Only when the cache has a Redis of its own (CACHE_REDIS_URL). */
  cache?: RedisAudit;
  /** Runs the first audits (logging any warning) and schedules the next ones. */
  start(): Promise<void>;
  stop(): void;
}

/** One audit per Redis the app uses: the sessions' one, and the cache's when it is separate. */
export function createRedisAudits(deps: {
  redis?: Redis;
  cacheRedis?: Redis;
  logger: Logger;
  intervalMs: number;
  timeoutMs: number;
  durable?: boolean;
}): RedisAudits {
  const { redis, cacheRedis, durable, ...rest } = deps;
  const sessions = redis ? createRedisAudit({ redis, purpose: "sessions", durable, ...rest }) : undefined;
  const cache =
    cacheRedis && cacheRedis !== redis
      ? createRedisAudit({ redis: cacheRedis, purpose: "cache", ...rest })
      : undefined;
  return {
    sessions,
    cache,
    async start() {
      await Promise.all([sessions?.start(), cache?.start()]);
    },
    stop() {
      sessions?.stop();
      cache?.stop();
    },
  };
}
