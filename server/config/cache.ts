import { z } from "zod";
import { int, type Report, type Values } from "./variables.js";

/** A cache category name (CACHE_TTLS and the cache API); the cache refuses any other. */
export const CATEGORY_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

/** `models:3600,users:300` → name → TTL in seconds; names as cache keys allow them, TTLs above 0. */
const categoryList = z.string().transform((value, ctx) => {
  const categories: Record<string, number> = {};
  for (const entry of value.split(",").map((s) => s.trim())) {
    const match = /^([^:\s]+)\s*:\s*(\d+)$/.exec(entry);
    const problem = !match
      ? "must be a comma-separated list of name:seconds, e.g. models:3600,users:300"
      : !CATEGORY_PATTERN.test(match[1] as string)
        ? `category names must match ${CATEGORY_PATTERN.source}`
        : Number(match[2]) < 1
          ? "each TTL must be at least 1 second"
          : (match[1] as string) in categories
            ? "names a category twice"
            : undefined;
    if (problem) {
      ctx.addIssue({ code: "custom", message: `${problem} (at "${entry.slice(0, 40)}")` });
      return z.NEVER;
    }
    categories[match?.[1] as string] = Number(match?.[2]);
  }
  return categories;
});

export const CACHE_VARIABLES = {
  CACHE_CATEGORIES: categoryList.optional(), // name:ttlSeconds list; added to (or overriding) models and users
  CACHE_MODELS_TTL_SECONDS: int(1).optional(), // deprecated (CACHE_CATEGORIES=models:N); default 3600
  CACHE_USERS_TTL_SECONDS: int(1).optional(), // deprecated (CACHE_CATEGORIES=users:N); default 300
  CACHE_GRACE_SECONDS: int(0).default(300), // how long past its TTL a value may serve when reloading fails
  CACHE_L1_MAX_ENTRIES: int(1).default(10_000), // in-process tier bound
  CACHE_L1_MAX_BYTES: int(1024).default(16 * 1024 * 1024), // in-process tier bound
  CACHE_L2_TIMEOUT_MS: int(10).default(250), // bound on each Redis call of the cache
  CACHE_LOADER_TIMEOUT_MS: int(10).default(15_000), // loader bound when the caller gives none
  CACHE_LOCK_LEASE_MS: int(100).default(20_000), // cross-instance loading lock; longer than the loader timeout
  CACHE_BREAKER_THRESHOLD: int(1).default(5), // consecutive Redis failures that open the breaker
  CACHE_BREAKER_COOLDOWN_MS: int(100).default(5000), // how long the open breaker skips Redis
};

/**
 * The built-in categories: the OpenAI model list, user records and personal access tokens (a revoked
 * token is dropped on every instance at once, so the TTL only bounds how long an unused one is kept).
 */
const DEFAULT_CATEGORIES = { models: 3600, users: 300, tokens: 300 } as const;

/** Cache categories and bounds (server/domain/cache/); durations carry their unit in the name. */
export function cacheConfig(v: Values<typeof CACHE_VARIABLES>, report: Report) {
  if (v.CACHE_LOCK_LEASE_MS <= v.CACHE_LOADER_TIMEOUT_MS) {
    report.problems.push(
      "CACHE_LOCK_LEASE_MS: must be longer than CACHE_LOADER_TIMEOUT_MS (or a second instance loads while the first still does)",
    );
  }
  return {
    cache: {
      /** Default time to live per category, in seconds; the keys are the only categories that exist. */
      categories: categories(v, report),
      /** How long an expired value may still be served when its loader fails, in seconds. */
      graceSeconds: v.CACHE_GRACE_SECONDS,
      l1MaxEntries: v.CACHE_L1_MAX_ENTRIES,
      l1MaxBytes: v.CACHE_L1_MAX_BYTES,
      /** Budget for each Redis call the cache makes. */
      l2TimeoutMs: v.CACHE_L2_TIMEOUT_MS,
      /** Default loader timeout when a call gives none. */
      loaderTimeoutMs: v.CACHE_LOADER_TIMEOUT_MS,
      /** Lifetime of the cross-instance loading lock; waiters give up and load themselves after it. */
      lockLeaseMs: v.CACHE_LOCK_LEASE_MS,
      /** Consecutive Redis failures that open the circuit breaker. */
      breakerThreshold: v.CACHE_BREAKER_THRESHOLD,
      /** How long the open breaker skips Redis before one probe call. */
      breakerCooldownMs: v.CACHE_BREAKER_COOLDOWN_MS,
    },
  };
}

export type CacheConfig = ReturnType<typeof cacheConfig>["cache"];

/** The built-in categories, the deprecated per-category variables, then CACHE_CATEGORIES. */
function categories(
  v: Values<typeof CACHE_VARIABLES>,
  report: Report,
): Record<string, { ttlSeconds: number }> {
  const ttls: Record<string, number> = { ...DEFAULT_CATEGORIES };
  const deprecated = [
    ["CACHE_MODELS_TTL_SECONDS", "models", v.CACHE_MODELS_TTL_SECONDS],
    ["CACHE_USERS_TTL_SECONDS", "users", v.CACHE_USERS_TTL_SECONDS],
  ] as const;
  for (const [name, category, ttl] of deprecated) {
    if (ttl === undefined) continue;
    if (v.CACHE_CATEGORIES?.[category] !== undefined) {
      report.problems.push(`${name}: ${category} is also in CACHE_CATEGORIES; keep only CACHE_CATEGORIES`);
    } else {
      report.warnings.push(`${name} is deprecated: set CACHE_CATEGORIES=${category}:${ttl} instead`);
    }
    ttls[category] = ttl;
  }
  Object.assign(ttls, v.CACHE_CATEGORIES);
  return Object.fromEntries(Object.entries(ttls).map(([name, ttlSeconds]) => [name, { ttlSeconds }]));
}
