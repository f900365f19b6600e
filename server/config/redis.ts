import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { z } from "zod";
import { bool, int, nonEmpty, type Report, redactUrl, secret, type Values } from "./variables.js";

export const REDIS_VARIABLES = {
  REDIS_URL: secret(nonEmpty.optional()), // redis://[user:pass@]host:port[/db], rediss:// for TLS
  REDIS_PRIVATE_URL: secret(nonEmpty.optional()), // used when REDIS_URL is unset
  REDIS_HOST: nonEmpty.optional(), // Redis from parts, when no URL
  REDIS_PORT: int(1, 65535).optional(), // default 6379
  REDIS_USERNAME: nonEmpty.optional(), // ACL user
  REDIS_PASSWORD: secret(nonEmpty.optional()), // password (AUTH)
  REDIS_DB: int(0, 15).optional(), // default 0; the URL's /N wins
  REDISHOST: nonEmpty.optional(), // Railway's variables, used when no REDIS_URL/REDIS_HOST
  REDISPORT: int(1, 65535).optional(), // Railway: port
  REDISUSER: nonEmpty.optional(), // Railway: user
  REDISPASSWORD: secret(nonEmpty.optional()), // Railway: password
  REDIS_TLS: bool.optional(), // force TLS on or off; unset: from the URL scheme
  REDIS_TLS_CA: nonEmpty.optional(), // CA certificate: PEM text or a file path
  REDIS_TLS_REJECT_UNAUTHORIZED: bool.default(true), // only false skips certificate verification
  REDIS_CLUSTER: bool.default(false), // the Redis address is a seed node of a Redis Cluster
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^\s*[^\s:,]+:\d+\s*(,\s*[^\s:,]+:\d+\s*)*$/, "must be a comma-separated list of host:port")
    .optional(), // more seed nodes; implies cluster mode
  REDIS_CONNECT_TIMEOUT_MS: int(100).default(5000), // bound on connecting
  REDIS_COMMAND_TIMEOUT_MS: int(10).default(500), // bound on each command
  REDIS_STALL_TIMEOUT_MS: int(10).optional(), // no reply this long: reconnect; default the command timeout
  CACHE_REDIS_URL: secret(nonEmpty.optional()), // a separate (evicting) Redis for the cache; sessions stay in REDIS_URL's
  REDIS_AUDIT_INTERVAL_MS: int(100).default(60_000), // how often Redis' memory policy, memory and persistence are read
  REDIS_SENTINELS: z
    .string()
    .regex(/^\s*[^\s:,]+:\d+\s*(,\s*[^\s:,]+:\d+\s*)*$/, "must be a comma-separated list of host:port")
    .optional(), // Redis Sentinel: the sentinels to ask for the current primary (instead of REDIS_URL)
  REDIS_SENTINEL_NAME: nonEmpty.optional(), // the master group name the sentinels monitor (e.g. mymaster)
  REDIS_SENTINEL_USERNAME: nonEmpty.optional(), // the sentinels' own ACL user, if any
  REDIS_SENTINEL_PASSWORD: secret(nonEmpty.optional()), // the sentinels' own password (data nodes: REDIS_PASSWORD)
  KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 letters, digits, '_', '.' or '-'")
    .default("app"), // namespace of every Redis key this app writes
};

type RedisValues = Values<typeof REDIS_VARIABLES>;

export interface RedisConfig {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls?: { ca?: string; rejectUnauthorized: boolean; servername?: string };
  /** Set for Redis Cluster: more startup nodes besides host:port (the rest are discovered). */
  cluster?: { nodes: Array<{ host: string; port: number }> };
  /** Set for Redis Sentinel: the primary is asked of these sentinels (host:port is the first of them). */
  sentinel?: SentinelConfig;
  /** Where the settings came from, for logs (never holds the password). */
  source: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** No reply for this long while commands are outstanding: the connection is dropped and re-made (default: the command timeout). */
  stallTimeoutMs?: number;
}

export interface SentinelConfig {
  /** The master group name the sentinels monitor. */
  name: string;
  nodes: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
}

/** The sessions' Redis, the cache's own Redis if any, the audit and the key namespace. */
export function redisConfig(v: RedisValues, report: Report) {
  const redis = parseRedis(v, report);
  return {
    redis,
    /** A separate Redis for the cache (CACHE_REDIS_URL); absent means the cache shares `redis`. */
    cacheRedis: parseCacheRedis(v, redis !== undefined, report),
    /** How often the Redis fitness audit runs (ms). */
    redisAuditIntervalMs: v.REDIS_AUDIT_INTERVAL_MS,
    keyPrefix: v.KEY_PREFIX,
  };
}

export type RedisSectionConfig = ReturnType<typeof redisConfig>;

type RedisBase = Omit<RedisConfig, "connectTimeoutMs" | "commandTimeoutMs" | "stallTimeoutMs" | "tls"> & {
  tls: boolean;
  /** The variable the database number came from, if not the default. */
  dbFrom?: string;
};

function parseRedis(v: RedisValues, report: Report): RedisConfig | undefined {
  if (v.REDIS_SENTINELS) return parseSentinel(v, v.REDIS_SENTINELS, report);
  if (v.REDIS_SENTINEL_NAME) report.problems.push("REDIS_SENTINEL_NAME: needs REDIS_SENTINELS too");
  const urlVar = v.REDIS_URL ? "REDIS_URL" : v.REDIS_PRIVATE_URL ? "REDIS_PRIVATE_URL" : undefined;
  let base: RedisBase;

  if (urlVar) {
    const parsed = parseRedisUrl(urlVar, (v[urlVar] ?? "") as string, v.REDIS_DB, report.problems);
    if (!parsed) return undefined;
    base = parsed;
  } else if (v.REDIS_HOST || v.REDISHOST) {
    const railway = !v.REDIS_HOST;
    base = {
      host: (v.REDIS_HOST ?? v.REDISHOST) as string,
      port: (railway ? v.REDISPORT : v.REDIS_PORT) ?? 6379,
      username: railway ? v.REDISUSER : v.REDIS_USERNAME,
      password: railway ? v.REDISPASSWORD : v.REDIS_PASSWORD,
      db: v.REDIS_DB ?? 0,
      dbFrom: v.REDIS_DB === undefined ? undefined : "REDIS_DB",
      tls: false,
      source: railway ? "REDISHOST/REDISPORT" : "REDIS_HOST/REDIS_PORT",
    };
  } else {
    return undefined;
  }

  const tls = redisTls(v.REDIS_TLS ?? base.tls, base.host, v, report);
  const { tls: _tls, dbFrom, ...rest } = base;
  const clusterNodes = (v.REDIS_CLUSTER_NODES ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf(":");
      return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
    });
  const cluster = v.REDIS_CLUSTER || clusterNodes.length > 0;
  if (cluster && base.db !== 0) {
    // Refused rather than ignored: the keys would land in database 0, next to whatever else lives there.
    const by = v.REDIS_CLUSTER ? "REDIS_CLUSTER=true" : "REDIS_CLUSTER_NODES";
    report.problems.push(
      `${dbFrom ?? "REDIS_DB"}: Redis Cluster has only database 0 (cluster mode is on through ${by}); remove the database number`,
    );
  }
  return {
    ...rest,
    cluster: cluster ? { nodes: clusterNodes } : undefined,
    tls,
    ...timeouts(v),
  };
}

function timeouts(v: RedisValues) {
  return {
    connectTimeoutMs: v.REDIS_CONNECT_TIMEOUT_MS,
    commandTimeoutMs: v.REDIS_COMMAND_TIMEOUT_MS,
    stallTimeoutMs: v.REDIS_STALL_TIMEOUT_MS ?? v.REDIS_COMMAND_TIMEOUT_MS,
  };
}

/** `redis[s]://[user:password@]host:port[/db]` from variable `name`; TLS follows the scheme. */
function parseRedisUrl(
  name: string,
  value: string,
  defaultDb: number | undefined,
  problems: string[],
): RedisBase | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${name}: not a valid URL (expected redis://[user:password@]host:port[/db])`);
    return undefined;
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    problems.push(`${name}: scheme must be redis:// or rediss:// (got "${url.protocol}//")`);
    return undefined;
  }
  if (!url.hostname) {
    problems.push(`${name}: has no host`);
    return undefined;
  }
  const dbPath = url.pathname.replace(/^\//, "");
  if (dbPath !== "" && !/^\d+$/.test(dbPath)) {
    problems.push(`${name}: database must be a number (got "/${dbPath}")`);
    return undefined;
  }
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port ? Number(url.port) : 6379,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: dbPath ? Number(dbPath) : (defaultDb ?? 0),
    dbFrom: dbPath ? name : defaultDb === undefined ? undefined : "REDIS_DB",
    tls: url.protocol === "rediss:",
    source: `${name}=${redactUrl(value)}`,
  };
}

/** TLS options shared by every Redis connection: REDIS_TLS_CA and REDIS_TLS_REJECT_UNAUTHORIZED. */
function redisTls(useTls: boolean, host: string, v: RedisValues, report: Report): RedisConfig["tls"] {
  if (!useTls) return undefined;
  const { problems, warnings } = report;
  let ca: string | undefined;
  if (v.REDIS_TLS_CA) {
    if (v.REDIS_TLS_CA.includes("-----BEGIN")) {
      ca = v.REDIS_TLS_CA.replace(/\\n/g, "\n");
    } else if (existsSync(v.REDIS_TLS_CA)) {
      ca = readFileSync(v.REDIS_TLS_CA, "utf8");
    } else if (!problems.some((p) => p.startsWith("REDIS_TLS_CA:"))) {
      problems.push("REDIS_TLS_CA: neither a PEM certificate nor a readable file path");
    }
  }
  const insecure =
    "REDIS_TLS_REJECT_UNAUTHORIZED=false: the Redis server certificate is NOT verified; traffic can be intercepted";
  if (!v.REDIS_TLS_REJECT_UNAUTHORIZED && !warnings.includes(insecure)) warnings.push(insecure);
  return {
    ca,
    rejectUnauthorized: v.REDIS_TLS_REJECT_UNAUTHORIZED,
    servername: isIP(host) ? undefined : host,
  };
}

/**
 * The job queue's Redis: QUEUE_REDIS_URL (one server, same URL forms, TLS settings and timeouts as REDIS_URL),
 * else the sessions' own settings (`main`). Sessions and jobs both need `noeviction`, so sharing is the default.
 */
export function queueRedisConfig(
  v: RedisValues & { QUEUE_REDIS_URL?: string },
  main: RedisConfig | undefined,
  report: Report,
): RedisConfig | undefined {
  if (!v.QUEUE_REDIS_URL || !main) return main;
  const base = parseRedisUrl("QUEUE_REDIS_URL", v.QUEUE_REDIS_URL, 0, report.problems);
  if (!base) return undefined;
  const { tls: useTls, dbFrom: _dbFrom, ...rest } = base;
  return { ...rest, tls: redisTls(useTls, base.host, v, report), ...timeouts(v) };
}

/** CACHE_REDIS_URL: one server (not a cluster), same URL forms and TLS settings as REDIS_URL. */
function parseCacheRedis(v: RedisValues, hasRedis: boolean, report: Report): RedisConfig | undefined {
  if (!v.CACHE_REDIS_URL) return undefined;
  if (!hasRedis) {
    report.problems.push(
      "CACHE_REDIS_URL: needs REDIS_URL too (sessions live in that Redis, the cache in this one)",
    );
    return undefined;
  }
  const base = parseRedisUrl("CACHE_REDIS_URL", v.CACHE_REDIS_URL, 0, report.problems);
  if (!base) return undefined;
  const { tls: useTls, dbFrom: _dbFrom, ...rest } = base;
  return { ...rest, tls: redisTls(useTls, base.host, v, report), ...timeouts(v) };
}

function hostPorts(list: string): Array<{ host: string; port: number }> {
  return list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf(":");
      return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
    });
}

/**
 * REDIS_SENTINELS / REDIS_SENTINEL_NAME: a Redis that finds its primary through Sentinel. The data nodes
 * take REDIS_USERNAME / REDIS_PASSWORD / REDIS_DB / REDIS_TLS.
 */
function parseSentinel(v: RedisValues, sentinels: string, report: Report): RedisConfig {
  if (!v.REDIS_SENTINEL_NAME) {
    report.problems.push(
      "REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the master group name, e.g. mymaster)",
    );
  }
  const others = (["REDIS_URL", "REDIS_PRIVATE_URL", "REDIS_HOST", "REDISHOST"] as const).filter(
    (name) => v[name] !== undefined,
  );
  if (others.length > 0) {
    report.problems.push(
      `REDIS_SENTINELS: set either the sentinels or ${others.join(", ")}, not both (the sentinels name the primary)`,
    );
  }
  if (v.REDIS_CLUSTER || v.REDIS_CLUSTER_NODES) {
    report.problems.push("REDIS_SENTINELS: cannot be combined with REDIS_CLUSTER / REDIS_CLUSTER_NODES");
  }
  const nodes = hostPorts(sentinels);
  if (nodes.some((n) => n.port < 1 || n.port > 65535)) {
    report.problems.push("REDIS_SENTINELS: every port must be from 1 to 65535");
  }
  const first = nodes[0] ?? { host: "", port: 0 };
  return {
    host: first.host,
    port: first.port,
    username: v.REDIS_USERNAME,
    password: v.REDIS_PASSWORD,
    db: v.REDIS_DB ?? 0,
    // With Sentinel the data nodes are announced as addresses: verify certificates against the CA only.
    tls: redisTls(v.REDIS_TLS ?? false, "127.0.0.1", v, report),
    sentinel: {
      name: v.REDIS_SENTINEL_NAME ?? "",
      nodes,
      username: v.REDIS_SENTINEL_USERNAME,
      password: v.REDIS_SENTINEL_PASSWORD,
    },
    source: `REDIS_SENTINELS=${nodes.map((n) => `${n.host}:${n.port}`).join(",")} (${v.REDIS_SENTINEL_NAME ?? ""})`,
    ...timeouts(v),
  };
}
