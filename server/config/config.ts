import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { z } from "zod";
import { type ForwardAuthConfig, parseForwardAuth } from "../forward-auth/config.js";

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  static readonly code = "invalid_config";
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export interface RedisConfig {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls?: { ca?: string; rejectUnauthorized: boolean; servername?: string };
  /** Set for Redis Cluster: more startup nodes besides host:port (the rest are discovered). */
  cluster?: { nodes: Array<{ host: string; port: number }> };
  /** Where the settings came from, for logs (never holds the password). */
  source: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** No reply for this long while commands are outstanding: the connection is dropped and re-made (default: the command timeout). */
  stallTimeoutMs?: number;
}

/** Cache knobs (server/cache/); durations carry their unit in the name. */
export interface CacheConfig {
  /** Default time to live per category, in seconds; the keys are the only categories that exist. */
  categories: Record<string, { ttlSeconds: number }>;
  /** How long an expired value may still be served when its loader fails, in seconds. */
  graceSeconds: number;
  l1MaxEntries: number;
  l1MaxBytes: number;
  /** Budget for each Redis call the cache makes. */
  l2TimeoutMs: number;
  /** Default loader timeout when a call gives none. */
  loaderTimeoutMs: number;
  /** Lifetime of the cross-instance loading lock; waiters give up and load themselves after it. */
  lockLeaseMs: number;
  /** Consecutive Redis failures that open the circuit breaker. */
  breakerThreshold: number;
  /** How long the open breaker skips Redis before one probe call. */
  breakerCooldownMs: number;
}

const MIN_SECRET_LENGTH = 32;

export const HEALTH_DEPENDENCIES = ["database", "redis", "openai"] as const;
export type HealthDependency = (typeof HEALTH_DEPENDENCIES)[number];
// Long enough for a load balancer probing every few seconds to see readiness fail before we stop listening.
const PRODUCTION_SHUTDOWN_DELAY_MS = 5000;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
// Of the platform's draining time, kept back for closing Redis and the database and exiting.
const SHUTDOWN_RESERVE_MS = 2000;

const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const nonEmpty = z.string().min(1);

/** One line per variable: the schema is also the list of every knob. */
const schema = z.object({
  NODE_ENV: z.enum(["production", "development", "test"]).optional(), // unset: production on a hosting platform, else development
  PORT: int(0, 65535).default(3000),
  HOST: nonEmpty.default("0.0.0.0"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  TRUST_PROXY: nonEmpty.optional(),
  SHUTDOWN_TIMEOUT_MS: int(0).optional(), // unset: 10 s, or sized from RAILWAY_DEPLOYMENT_DRAINING_SECONDS
  RAILWAY_DEPLOYMENT_DRAINING_SECONDS: int(0, 86_400).optional(), // set by Railway: SIGTERM to SIGKILL
  HTTP_REQUEST_TIMEOUT_MS: int(1000).default(30_000),
  HTTP_HEADERS_TIMEOUT_MS: int(1000).default(10_000),

  REDIS_URL: nonEmpty.optional(),
  REDIS_PRIVATE_URL: nonEmpty.optional(),
  REDIS_HOST: nonEmpty.optional(),
  REDIS_PORT: int(1, 65535).optional(),
  REDIS_USERNAME: nonEmpty.optional(),
  REDIS_PASSWORD: nonEmpty.optional(),
  REDIS_DB: int(0, 15).optional(),
  REDISHOST: nonEmpty.optional(),
  REDISPORT: int(1, 65535).optional(),
  REDISUSER: nonEmpty.optional(),
  REDISPASSWORD: nonEmpty.optional(),
  REDIS_TLS: bool.optional(),
  REDIS_TLS_CA: nonEmpty.optional(),
  REDIS_TLS_REJECT_UNAUTHORIZED: bool.default(true),
  REDIS_CLUSTER: bool.default(false),
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^\s*[^\s:,]+:\d+\s*(,\s*[^\s:,]+:\d+\s*)*$/, "must be a comma-separated list of host:port")
    .optional(),
  REDIS_CONNECT_TIMEOUT_MS: int(100).default(5000),
  REDIS_COMMAND_TIMEOUT_MS: int(10).default(500),
  REDIS_STALL_TIMEOUT_MS: int(10).optional(),
  CACHE_REDIS_URL: nonEmpty.optional(), // a separate (evicting) Redis for the cache; sessions stay in REDIS_URL's
  REDIS_AUDIT_INTERVAL_MS: int(100).default(60_000), // how often Redis' memory policy, memory and persistence are read

  DATABASE_URL: nonEmpty.optional(),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case SQL identifier")
    .optional(),
  DATABASE_POOL_MAX: int(1, 1000).default(10),
  DATABASE_TIMEOUT_MS: int(100).default(5000),
  DATA_DIR: nonEmpty.default(".data"),

  SESSION_SECRET: nonEmpty.optional(),
  SESSION_COOKIE_NAME: z
    .string()
    .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "must be a valid cookie name")
    .optional(),
  SESSION_TTL_SECONDS: int(1).default(86_400),
  SESSION_ABSOLUTE_TTL_SECONDS: int(1).default(7 * 86_400),
  SESSION_MEMORY_MAX: int(1).default(10_000),
  COOKIE_SECURE: bool.optional(),
  COOKIE_SAMESITE: z.enum(["strict", "lax", "none"]).default("strict"),
  KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 letters, digits, '_', '.' or '-'")
    .default("app"),

  PASSWORD_SCRYPT_LOG_N: int(10, 20).default(17),
  PASSWORD_HASH_CONCURRENCY: int(1, 64).default(2),
  PASSWORD_HASH_QUEUE_MAX: int(0, 10_000).default(16), // hashes waiting for a slot; more are refused 503
  PASSWORD_HASH_MAX_WAIT_MS: int(1, 60_000).default(2000), // longest wait for a slot before 503

  ADMIN_API_KEY: z.string().min(16, "must be at least 16 characters").optional(),
  OPENAI_API_KEY: nonEmpty.optional(),
  OPENAI_BASE_URL: z.url({ protocol: /^https?$/ }).default("https://api.openai.com/v1"),
  OPENAI_TIMEOUT_MS: int(100).default(10_000),

  // --- cache (server/cache/) ---
  CACHE_MODELS_TTL_SECONDS: int(1).default(3600),
  CACHE_USERS_TTL_SECONDS: int(1).default(300),
  CACHE_GRACE_SECONDS: int(0).default(300),
  CACHE_L1_MAX_ENTRIES: int(1).default(10_000),
  CACHE_L1_MAX_BYTES: int(1024).default(16 * 1024 * 1024),
  CACHE_L2_TIMEOUT_MS: int(10).default(250),
  CACHE_LOADER_TIMEOUT_MS: int(10).default(15_000),
  CACHE_LOCK_LEASE_MS: int(100).default(20_000),
  CACHE_BREAKER_THRESHOLD: int(1).default(5),
  CACHE_BREAKER_COOLDOWN_MS: int(100).default(5000),
  // --- end cache ---

  // --- Health probes, metrics and graceful shutdown ---
  HEALTH_CHECK_TIMEOUT_MS: int(50, 60_000).default(2000),
  HEALTH_REQUIRED: z
    .string()
    .regex(
      /^(none|(database|redis|openai)(\s*,\s*(database|redis|openai))*)$/,
      "must be 'none' or a comma-separated list of database, redis, openai",
    )
    .optional(),
  HEALTH_OPENAI_CACHE_SECONDS: int(0, 86_400).default(60),
  METRICS_PUBLIC: bool.default(false),
  SHUTDOWN_DELAY_MS: int(0, 600_000).optional(),
  // --- Rate limiting (server/ratelimit) ---
  RATE_LIMIT_DRY_RUN: bool.default(false), // count and log, reject nothing
  RATE_LIMIT_INSTANCES: int(1, 1000).default(1), // instances sharing the limits; divides them while Redis is down
  RATE_LIMIT_IPV6_PREFIX: int(1, 128).default(64), // bits of an IPv6 address that identify one client
  RATE_LIMIT_MEMORY_MAX_KEYS: int(1).default(100_000), // subjects the in-process limiter remembers
  RATE_LIMIT_GLOBAL_LIMIT: int(1).default(300), // requests per client address per window (all but /health*)
  RATE_LIMIT_GLOBAL_WINDOW_SECONDS: int(1).default(60),
  RATE_LIMIT_LOGIN_LIMIT: int(1).default(20), // POST /auth/login and /auth/register per client address
  RATE_LIMIT_LOGIN_WINDOW_SECONDS: int(1).default(900),
  RATE_LIMIT_LOGIN_ACCOUNT_LIMIT: int(1).default(5), // failed logins per account across all addresses
  RATE_LIMIT_LOGIN_ACCOUNT_WINDOW_SECONDS: int(1).default(900),
  RATE_LIMIT_API_LIMIT: int(1).default(600), // authenticated /api/* requests per user
  RATE_LIMIT_API_WINDOW_SECONDS: int(1).default(60),

  // Browser pages and CSRF
  APP_ORIGIN: nonEmpty.optional(),

  // --- Session expiry cost (benchmarks issue) ---
  SESSION_TOUCH_FRACTION: z
    .string()
    .regex(/^(0|0?\.\d+)$/, "must be a decimal from 0 to below 1, e.g. 0.1")
    .transform(Number)
    .pipe(z.number().min(0).lt(1))
    .default(0.1),

  // --- forward auth ---
  FORWARD_AUTH_ALLOWED_ORIGINS: nonEmpty.optional(), // more origins `next` may return to after login, besides APP_ORIGIN
  FORWARD_AUTH_RULES: nonEmpty.optional(), // host/path-prefix[=emails] patterns sessions may reach through /auth/verify; unset: all
  FORWARD_AUTH_LOGIN_URL: nonEmpty.optional(), // login page a proxy sends browsers to (default /login on the proxied host)
  FORWARD_AUTH_HEADER_PREFIX: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,30}-$/, "must be a header name prefix ending in '-', e.g. X-Auth-")
    .default("X-Auth-"),
  COOKIE_DOMAIN: z
    .string()
    .regex(/^\.?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}$/i, "must be a domain like example.com")
    .optional(), // share the session cookie with subdomains (then no __Host- cookie name)
});

/** Every environment variable the server reads. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

type Raw = z.infer<typeof schema>;

/** Variables that hosting platforms set in every deployment; any of them means "this is deployed". */
const PLATFORM_MARKERS = [
  ["RAILWAY_ENVIRONMENT", "Railway"],
  ["RAILWAY_ENVIRONMENT_NAME", "Railway"],
  ["RAILWAY_PROJECT_ID", "Railway"],
  ["RAILWAY_SERVICE_ID", "Railway"],
  ["RAILWAY_DEPLOYMENT_ID", "Railway"],
  ["RENDER", "Render"],
  ["FLY_APP_NAME", "Fly.io"],
  ["DYNO", "Heroku"],
  ["K_SERVICE", "Cloud Run"],
] as const;

/** The hosting platform the environment reveals, if any. */
export function detectPlatform(env: Env): string | undefined {
  return PLATFORM_MARKERS.find(([name]) => (env[name] ?? "").trim() !== "")?.[1];
}

export interface RateLimitSetting {
  limit: number;
  windowSeconds: number;
}

export interface Config {
  env: NonNullable<Raw["NODE_ENV"]>;
  isProduction: boolean;
  /** Hosting platform detected from its variables (e.g. "Railway"), if any. */
  platform?: string;
  port: number;
  host: string;
  logLevel: Raw["LOG_LEVEL"];
  /** Express `trust proxy`: a hop count or a list of addresses/CIDRs, never `true`. */
  trustProxy: number | string[];
  shutdownTimeoutMs: number;
  /** Bounds on receiving a whole request / its headers (Node `requestTimeout` / `headersTimeout`). */
  http: { requestTimeoutMs: number; headersTimeoutMs: number };
  redis?: RedisConfig;
  /** A separate Redis for the cache (CACHE_REDIS_URL); absent means the cache shares `redis`. */
  cacheRedis?: RedisConfig;
  /** How often the Redis fitness audit runs (ms). */
  redisAuditIntervalMs: number;
  database: {
    url?: string;
    schema?: string;
    poolMax: number;
    timeoutMs: number;
    dataDir: string;
  };
  session: {
    secrets: string[];
    /** Set when no secret was configured outside production. */
    generatedSecret: boolean;
    weakSecret: boolean;
    cookieName: string;
    ttlSeconds: number;
    absoluteTtlSeconds: number;
    memoryMax: number;
    /**
     * The session's expiry in Redis is extended only once its remaining lifetime has dropped by more
     * than this fraction of the TTL (0: on every request).
     */
    touchFraction: number;
    cookieSecure: boolean;
    sameSite: "strict" | "lax" | "none";
  };
  keyPrefix: string;
  password: { scryptLogN: number; concurrency: number; queueMax: number; maxWaitMs: number };
  /** Bearer token for the admin endpoints; unset means they answer 404. */
  adminApiKey?: string;
  openai: { apiKey?: string; baseUrl: string; timeoutMs: number };
  cache: CacheConfig;
  health: {
    /** Bound on each dependency check and so on every probe's answer (ms). */
    checkTimeoutMs: number;
    /** Dependencies whose failure makes readiness and /health/complete answer 503; only configured ones. */
    required: HealthDependency[];
    openaiCacheSeconds: number;
  };
  /** Serve GET /metrics without the admin bearer token. */
  metricsPublic: boolean;
  /** After SIGTERM, how long readiness reports 503 while requests are still served (ms). */
  shutdownDelayMs: number;
  rateLimit: {
    dryRun: boolean;
    instances: number;
    ipv6PrefixBits: number;
    memoryMaxKeys: number;
    global: RateLimitSetting;
    login: RateLimitSetting;
    loginAccount: RateLimitSetting;
    api: RateLimitSetting;
  };
  /** Origins allowed to send state-changing browser requests; empty means "the request's own origin". */
  appOrigins: string[];
  forwardAuth: ForwardAuthConfig;
  /** Warnings to log once the logger exists. */
  warnings: string[];
}

/** Parses and validates the environment once; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Env): Config {
  // Empty strings count as unset: Railway and .env files often leave `VAR=`.
  const cleaned: Env = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== "") cleaned[k] = v.trim();

  // Each variable is parsed on its own so that one bad value does not hide the others.
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(schema.shape)) {
    const result = (type as z.ZodType).safeParse(cleaned[name]);
    if (result.success) {
      values[name] = result.data;
    } else {
      const message = result.error.issues[0]?.message ?? "is invalid";
      problems.push(
        `${name}: ${message}${cleaned[name] === undefined ? "" : ` (got "${shown(name, cleaned[name])}")`}`,
      );
      values[name] = (type as z.ZodType).safeParse(undefined).data;
    }
  }
  const raw = values as Raw;
  const warnings: string[] = [];
  const platform = detectPlatform(cleaned);
  // A deployed instance must never get the development defaults (insecure cookie, no proxy, random secret).
  const nodeEnv = raw.NODE_ENV ?? (platform ? "production" : "development");
  const isProduction = nodeEnv === "production";
  if (platform && !isProduction) {
    warnings.push(
      `NODE_ENV=${nodeEnv} on ${platform}: development defaults (cookie without Secure, no trusted proxy, a random per-process secret) are active on a deployed instance`,
    );
  }

  const trustProxy = parseTrustProxy(raw.TRUST_PROXY, isProduction, problems);
  const redis = parseRedis(raw, problems, warnings);
  const cacheRedis = parseCacheRedis(raw, redis !== undefined, problems, warnings);

  const cookieSecure = raw.COOKIE_SECURE ?? isProduction;
  if (raw.COOKIE_SAMESITE === "none" && !cookieSecure) {
    problems.push("COOKIE_SAMESITE: 'none' requires COOKIE_SECURE=true (browsers reject it otherwise)");
  }
  if (/^__(Host|Secure)-/i.test(raw.SESSION_COOKIE_NAME ?? "") && !cookieSecure) {
    problems.push(
      "SESSION_COOKIE_NAME: a __Host- or __Secure- name requires COOKIE_SECURE=true (browsers drop the cookie otherwise)",
    );
  }
  if (isProduction && raw.COOKIE_SECURE === false) {
    warnings.push(
      "COOKIE_SECURE=false in production: the session cookie is sent over plain HTTP and can be stolen on the network",
    );
  }
  const shutdown = sizeShutdown(raw, isProduction, warnings);

  let secrets = (raw.SESSION_SECRET ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  let generatedSecret = false;
  const weakSecret = secrets.some((s) => s.length < MIN_SECRET_LENGTH);
  if (isProduction) {
    if (secrets.length === 0) {
      problems.push(
        `SESSION_SECRET: required in production (at least ${MIN_SECRET_LENGTH} random characters; e.g. \`openssl rand -base64 48\`)`,
      );
    } else if (weakSecret) {
      problems.push(
        `SESSION_SECRET: every secret must be at least ${MIN_SECRET_LENGTH} characters in production`,
      );
    }
  } else if (secrets.length === 0) {
    secrets = [randomBytes(32).toString("base64url")];
    generatedSecret = true;
    warnings.push(
      "SESSION_SECRET is not set: using a random secret for this process; sessions end when it restarts",
    );
  } else if (weakSecret) {
    warnings.push(`SESSION_SECRET is shorter than ${MIN_SECRET_LENGTH} characters: production refuses it`);
  }

  if (raw.SESSION_ABSOLUTE_TTL_SECONDS < raw.SESSION_TTL_SECONDS) {
    problems.push("SESSION_ABSOLUTE_TTL_SECONDS: must be at least SESSION_TTL_SECONDS");
  }

  if (raw.CACHE_LOCK_LEASE_MS <= raw.CACHE_LOADER_TIMEOUT_MS) {
    problems.push(
      "CACHE_LOCK_LEASE_MS: must be longer than CACHE_LOADER_TIMEOUT_MS (or a second instance loads while the first still does)",
    );
  }

  if (raw.HTTP_HEADERS_TIMEOUT_MS > raw.HTTP_REQUEST_TIMEOUT_MS) {
    problems.push("HTTP_HEADERS_TIMEOUT_MS: must not be longer than HTTP_REQUEST_TIMEOUT_MS");
  }

  const appOrigins = parseOrigins(raw.APP_ORIGIN, problems);

  const healthRequired = parseHealthRequired(raw, redis !== undefined, problems);
  const forwardAuth = parseForwardAuth(raw, { cookieSecure, appOrigins }, problems);

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    env: nodeEnv,
    isProduction,
    platform,
    port: raw.PORT,
    host: raw.HOST,
    logLevel: raw.LOG_LEVEL,
    trustProxy,
    shutdownTimeoutMs: shutdown.timeoutMs,
    http: { requestTimeoutMs: raw.HTTP_REQUEST_TIMEOUT_MS, headersTimeoutMs: raw.HTTP_HEADERS_TIMEOUT_MS },
    redis,
    cacheRedis,
    redisAuditIntervalMs: raw.REDIS_AUDIT_INTERVAL_MS,
    database: {
      url: raw.DATABASE_URL,
      schema: raw.DATABASE_SCHEMA,
      poolMax: raw.DATABASE_POOL_MAX,
      timeoutMs: raw.DATABASE_TIMEOUT_MS,
      dataDir: raw.DATA_DIR,
    },
    session: {
      secrets,
      generatedSecret,
      weakSecret,
      cookieName: raw.SESSION_COOKIE_NAME ?? (cookieSecure ? "__Host-sid" : "sid"),
      ttlSeconds: raw.SESSION_TTL_SECONDS,
      absoluteTtlSeconds: raw.SESSION_ABSOLUTE_TTL_SECONDS,
      memoryMax: raw.SESSION_MEMORY_MAX,
      touchFraction: raw.SESSION_TOUCH_FRACTION,
      cookieSecure,
      sameSite: raw.COOKIE_SAMESITE,
    },
    keyPrefix: raw.KEY_PREFIX,
    password: {
      scryptLogN: raw.PASSWORD_SCRYPT_LOG_N,
      concurrency: raw.PASSWORD_HASH_CONCURRENCY,
      queueMax: raw.PASSWORD_HASH_QUEUE_MAX,
      maxWaitMs: raw.PASSWORD_HASH_MAX_WAIT_MS,
    },
    adminApiKey: raw.ADMIN_API_KEY,
    openai: {
      apiKey: raw.OPENAI_API_KEY,
      baseUrl: raw.OPENAI_BASE_URL.replace(/\/+$/, ""),
      timeoutMs: raw.OPENAI_TIMEOUT_MS,
    },
    cache: {
      categories: {
        models: { ttlSeconds: raw.CACHE_MODELS_TTL_SECONDS },
        users: { ttlSeconds: raw.CACHE_USERS_TTL_SECONDS },
      },
      graceSeconds: raw.CACHE_GRACE_SECONDS,
      l1MaxEntries: raw.CACHE_L1_MAX_ENTRIES,
      l1MaxBytes: raw.CACHE_L1_MAX_BYTES,
      l2TimeoutMs: raw.CACHE_L2_TIMEOUT_MS,
      loaderTimeoutMs: raw.CACHE_LOADER_TIMEOUT_MS,
      lockLeaseMs: raw.CACHE_LOCK_LEASE_MS,
      breakerThreshold: raw.CACHE_BREAKER_THRESHOLD,
      breakerCooldownMs: raw.CACHE_BREAKER_COOLDOWN_MS,
    },
    health: {
      checkTimeoutMs: raw.HEALTH_CHECK_TIMEOUT_MS,
      required: healthRequired,
      openaiCacheSeconds: raw.HEALTH_OPENAI_CACHE_SECONDS,
    },
    metricsPublic: raw.METRICS_PUBLIC,
    shutdownDelayMs: shutdown.delayMs,
    rateLimit: {
      dryRun: raw.RATE_LIMIT_DRY_RUN,
      instances: raw.RATE_LIMIT_INSTANCES,
      ipv6PrefixBits: raw.RATE_LIMIT_IPV6_PREFIX,
      memoryMaxKeys: raw.RATE_LIMIT_MEMORY_MAX_KEYS,
      global: { limit: raw.RATE_LIMIT_GLOBAL_LIMIT, windowSeconds: raw.RATE_LIMIT_GLOBAL_WINDOW_SECONDS },
      login: { limit: raw.RATE_LIMIT_LOGIN_LIMIT, windowSeconds: raw.RATE_LIMIT_LOGIN_WINDOW_SECONDS },
      loginAccount: {
        limit: raw.RATE_LIMIT_LOGIN_ACCOUNT_LIMIT,
        windowSeconds: raw.RATE_LIMIT_LOGIN_ACCOUNT_WINDOW_SECONDS,
      },
      api: { limit: raw.RATE_LIMIT_API_LIMIT, windowSeconds: raw.RATE_LIMIT_API_WINDOW_SECONDS },
    },

    appOrigins,
    forwardAuth,
    warnings,
  };
}

const SECRET_VARS = /PASSWORD|SECRET|KEY|_URL$/;

function shown(name: string, value: string | undefined): string {
  if (value === undefined) return "";
  if (name.endsWith("_URL")) return redactUrl(value);
  return SECRET_VARS.test(name) ? "***" : value.slice(0, 80);
}

/** `redis://default:secret@host:6379` → `redis://default:***@host:6379`; unparsable input is hidden whole. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "***";
  }
}

/**
 * The default (database, redis) only counts Redis when it is configured, so the embedded mode stays ready;
 * naming a dependency that is not configured is an error rather than a probe that can never pass.
 */
function parseHealthRequired(raw: Raw, hasRedis: boolean, problems: string[]): HealthDependency[] {
  if (raw.HEALTH_REQUIRED === undefined) return hasRedis ? ["database", "redis"] : ["database"];
  if (raw.HEALTH_REQUIRED === "none") return [];
  const names = [...new Set(raw.HEALTH_REQUIRED.split(",").map((s) => s.trim() as HealthDependency))];
  if (names.includes("redis") && !hasRedis) {
    problems.push("HEALTH_REQUIRED: names redis but no Redis is configured (set REDIS_URL)");
  }
  if (names.includes("openai") && !raw.OPENAI_API_KEY) {
    problems.push("HEALTH_REQUIRED: names openai but OPENAI_API_KEY is not set");
  }
  return names;
}

/** `https://app.example.com[,https://other.example]` → exact origins (scheme, host, port; no path). */
function parseOrigins(value: string | undefined, problems: string[]): string[] {
  if (value === undefined) return [];
  const origins: string[] = [];
  for (const entry of value.split(",").map((s) => s.trim())) {
    let url: URL | undefined;
    try {
      url = new URL(entry);
    } catch {
      url = undefined;
    }
    const bare = url && (url.pathname === "/" || url.pathname === "") && !url.search && !url.hash;
    if (!url || !/^https?:$/.test(url.protocol) || !bare || url.username || url.password) {
      problems.push(
        `APP_ORIGIN: each entry must be an origin like https://app.example.com (scheme, host, optional port, nothing else) (got "${entry.slice(0, 80)}")`,
      );
      continue;
    }
    origins.push(url.origin);
  }
  return origins;
}

/**
 * SIGTERM-to-SIGKILL budget: when the platform announces its draining time, unset delay and timeout are
 * sized to fit in it (a third of what is left for the delay, the rest for in-flight requests).
 */
function sizeShutdown(
  raw: Raw,
  isProduction: boolean,
  warnings: string[],
): { delayMs: number; timeoutMs: number } {
  const defaultDelay = isProduction ? PRODUCTION_SHUTDOWN_DELAY_MS : 0;
  const drainingSeconds = raw.RAILWAY_DEPLOYMENT_DRAINING_SECONDS;
  if (drainingSeconds === undefined) {
    return {
      delayMs: raw.SHUTDOWN_DELAY_MS ?? defaultDelay,
      timeoutMs: raw.SHUTDOWN_TIMEOUT_MS ?? DEFAULT_SHUTDOWN_TIMEOUT_MS,
    };
  }
  const budget = Math.max(0, drainingSeconds * 1000 - SHUTDOWN_RESERVE_MS); // ms
  if (drainingSeconds === 0) {
    warnings.push(
      "RAILWAY_DEPLOYMENT_DRAINING_SECONDS=0: the platform kills the process right after SIGTERM, so in-flight requests are cut; set the service's draining time (drainingSeconds) to 15 or more",
    );
  }
  const delayMs = raw.SHUTDOWN_DELAY_MS ?? Math.min(defaultDelay, Math.floor(budget / 3));
  const timeoutMs = raw.SHUTDOWN_TIMEOUT_MS ?? Math.max(0, budget - delayMs);
  if (drainingSeconds > 0 && delayMs + timeoutMs > drainingSeconds * 1000) {
    warnings.push(
      `SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS (${delayMs + timeoutMs} ms) exceed RAILWAY_DEPLOYMENT_DRAINING_SECONDS (${drainingSeconds} s): the platform kills the process before the shutdown ends`,
    );
  }
  return { delayMs, timeoutMs };
}

function parseTrustProxy(
  value: string | undefined,
  isProduction: boolean,
  problems: string[],
): number | string[] {
  if (value === undefined) return isProduction ? 1 : 0;
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value.split(",").map((s) => s.trim());
  const bad = entries.filter((e) => !isAddressOrCidr(e));
  if (bad.length > 0 || entries.length === 0) {
    problems.push(
      `TRUST_PROXY: must be a hop count (e.g. 1 on Railway) or a comma-separated list of addresses/CIDRs, never "true" (got "${value}")`,
    );
    return 0;
  }
  if (entries.some(trustsEveryAddress)) {
    problems.push(
      `TRUST_PROXY: "${value}" trusts every address, so any client can choose the IP it is rate-limited by; use a hop count (1 on Railway) or the proxies' own addresses`,
    );
    return 0;
  }
  return entries;
}

/** `0.0.0.0/0`, `::/0`, any `/0`, and `::ffff:0:0/96` (every IPv4 address as IPv6). */
function trustsEveryAddress(entry: string): boolean {
  const [addr, bits] = entry.split("/");
  if (bits === undefined) return false;
  if (Number(bits) === 0) return true;
  return Number(bits) <= 96 && /^::ffff:(0+:0+|0\.0\.0\.0)$/i.test(addr ?? "");
}

function isAddressOrCidr(entry: string): boolean {
  const [addr, bits, ...rest] = entry.split("/");
  if (rest.length > 0 || !addr) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

function parseRedis(raw: Raw, problems: string[], warnings: string[]): RedisConfig | undefined {
  const urlVar = raw.REDIS_URL ? "REDIS_URL" : raw.REDIS_PRIVATE_URL ? "REDIS_PRIVATE_URL" : undefined;
  let base: RedisBase;

  if (urlVar) {
    const parsed = parseRedisUrl(
      urlVar,
      (raw[urlVar as "REDIS_URL"] ?? "") as string,
      raw.REDIS_DB,
      problems,
    );
    if (!parsed) return undefined;
    base = parsed;
  } else if (raw.REDIS_HOST || raw.REDISHOST) {
    const railway = !raw.REDIS_HOST;
    base = {
      host: (raw.REDIS_HOST ?? raw.REDISHOST) as string,
      port: (railway ? raw.REDISPORT : raw.REDIS_PORT) ?? 6379,
      username: railway ? raw.REDISUSER : raw.REDIS_USERNAME,
      password: railway ? raw.REDISPASSWORD : raw.REDIS_PASSWORD,
      db: raw.REDIS_DB ?? 0,
      tls: false,
      source: railway ? "REDISHOST/REDISPORT" : "REDIS_HOST/REDIS_PORT",
    };
  } else {
    return undefined;
  }

  const tls = redisTls(raw.REDIS_TLS ?? base.tls, base.host, raw, problems, warnings);
  const { tls: _ignored, ...rest } = base;
  const clusterNodes = (raw.REDIS_CLUSTER_NODES ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf(":");
      return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
    });
  if (raw.REDIS_CLUSTER && base.db !== 0) problems.push("REDIS_DB: Redis Cluster has only database 0");
  return {
    ...rest,
    cluster: raw.REDIS_CLUSTER || clusterNodes.length > 0 ? { nodes: clusterNodes } : undefined,
    tls,
    connectTimeoutMs: raw.REDIS_CONNECT_TIMEOUT_MS,
    commandTimeoutMs: raw.REDIS_COMMAND_TIMEOUT_MS,
    stallTimeoutMs: raw.REDIS_STALL_TIMEOUT_MS ?? raw.REDIS_COMMAND_TIMEOUT_MS,
  };
}

type RedisBase = Omit<RedisConfig, "connectTimeoutMs" | "commandTimeoutMs" | "stallTimeoutMs" | "tls"> & {
  tls: boolean;
};

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
    tls: url.protocol === "rediss:",
    source: `${name}=${redactUrl(value)}`,
  };
}

/** TLS options shared by every Redis connection: REDIS_TLS_CA and REDIS_TLS_REJECT_UNAUTHORIZED. */
function redisTls(
  useTls: boolean,
  host: string,
  raw: Raw,
  problems: string[],
  warnings: string[],
): RedisConfig["tls"] {
  if (!useTls) return undefined;
  let ca: string | undefined;
  if (raw.REDIS_TLS_CA) {
    if (raw.REDIS_TLS_CA.includes("-----BEGIN")) {
      ca = raw.REDIS_TLS_CA.replace(/\\n/g, "\n");
    } else if (existsSync(raw.REDIS_TLS_CA)) {
      ca = readFileSync(raw.REDIS_TLS_CA, "utf8");
    } else if (!problems.some((p) => p.startsWith("REDIS_TLS_CA:"))) {
      problems.push("REDIS_TLS_CA: neither a PEM certificate nor a readable file path");
    }
  }
  const insecure =
    "REDIS_TLS_REJECT_UNAUTHORIZED=false: the Redis server certificate is NOT verified; traffic can be intercepted";
  if (!raw.REDIS_TLS_REJECT_UNAUTHORIZED && !warnings.includes(insecure)) warnings.push(insecure);
  return {
    ca,
    rejectUnauthorized: raw.REDIS_TLS_REJECT_UNAUTHORIZED,
    servername: isIP(host) ? undefined : host,
  };
}

/** CACHE_REDIS_URL: one server (not a cluster), same URL forms and TLS settings as REDIS_URL. */
function parseCacheRedis(
  raw: Raw,
  hasRedis: boolean,
  problems: string[],
  warnings: string[],
): RedisConfig | undefined {
  if (!raw.CACHE_REDIS_URL) return undefined;
  if (!hasRedis) {
    problems.push(
      "CACHE_REDIS_URL: needs REDIS_URL too (sessions live in that Redis, the cache in this one)",
    );
    return undefined;
  }
  const base = parseRedisUrl("CACHE_REDIS_URL", raw.CACHE_REDIS_URL, 0, problems);
  if (!base) return undefined;
  const { tls: useTls, ...rest } = base;
  return {
    ...rest,
    tls: redisTls(useTls, base.host, raw, problems, warnings),
    connectTimeoutMs: raw.REDIS_CONNECT_TIMEOUT_MS,
    commandTimeoutMs: raw.REDIS_COMMAND_TIMEOUT_MS,
    stallTimeoutMs: raw.REDIS_STALL_TIMEOUT_MS ?? raw.REDIS_COMMAND_TIMEOUT_MS,
  };
}
