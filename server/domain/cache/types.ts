import type { CacheConfig } from "../../config/config.js";
import type { Logger } from "../../infra/logging/logger.js";
import type { Redis } from "../../infra/redis/redis-client.js";
import type { BreakerState } from "./circuit-breaker.js";
import type { CacheKeys } from "./keys.js";
import type { CacheL2 } from "./l2.js";

export type CacheStatus = "hit" | "miss" | "stale";

export interface CacheCallOptions {
  /** How long the value is fresh; defaults to the category's TTL. */
  ttlMs?: number;
  /** How long after `ttlMs` an expired value may still be served when the loader fails; defaults to config. */
  graceMs?: number;
  /** Loader budget; on timeout the loader's signal aborts and the call counts as a loader failure. */
  timeoutMs?: number;
}

export type Loader<T> = (context: { signal: AbortSignal }) => Promise<T>;

export interface CategoryStats {
  hits: number;
  hitsL1: number;
  hitsL2: number;
  misses: number;
  /** Calls answered with an expired value because the loader failed (within grace). */
  stale: number;
  /** Loader runs and loader failures (errors and timeouts). */
  loads: number;
  loaderErrors: number;
  /** hits / (hits + misses + stale), 0 before the first call. */
  hitRate: number;
}

/**
 * A synchronous snapshot of this process's counters, for the admin API and a Prometheus exporter.
 * Counters only grow (reset when the process restarts); `l1` and `l2` describe the current state.
 */
export interface CacheStats {
  categories: Record<string, CategoryStats>;
  l1: { entries: number; bytes: number; maxEntries: number; maxBytes: number };
  l2: {
    mode: "redis" | "none";
    /** `disabled` without Redis. */
    breaker: BreakerState | "disabled";
    /** Redis calls that failed or timed out since start. */
    failures: number;
    subscriber: "ready" | "down" | "none";
  };
}

export interface InvalidateResult {
  categories: string[];
  /** `ok`: Redis has the new generation; `unavailable`: only this process's L1 was dropped; `none`: no Redis. */
  redis: "ok" | "unavailable" | "none";
}

export interface InspectResult {
  category: string;
  key: string;
  redisKey: string;
  value: unknown;
  sizeBytes: number;
  fresh: boolean;
  expiresAt: string;
  graceUntil: string;
  /** Remaining Redis lifetime (fresh + grace), ms. */
  ttlMs: number;
}

export interface Cache {
  readonly categories: readonly string[];
  readonly keys: CacheKeys;
  get<T>(category: string, key: string): Promise<T | undefined>;
  set<T>(category: string, key: string, value: T, options?: CacheCallOptions): Promise<void>;
  delete(category: string, key: string): Promise<void>;
  /** The cached value, or the loader's (run once across instances); null/undefined results are not stored. */
  getOrSet<T>(category: string, key: string, loader: Loader<T>, options?: CacheCallOptions): Promise<T>;
  /** Same as `getOrSet`, also telling whether the value was a hit, a fresh load or a stale fallback. */
  getOrSetWithStatus<T>(
    category: string,
    key: string,
    loader: Loader<T>,
    options?: CacheCallOptions,
  ): Promise<{ value: T; status: CacheStatus }>;
  /** Drops a category (or every category) for all instances, by moving to a new generation. */
  invalidate(category: string): Promise<InvalidateResult>;
  /** Looks a key up in Redis for operators (no L1, no counters). */
  inspect(category: string, key: string): Promise<InspectResult | undefined>;
  /** Live keys per category from the maintained index (no KEYS/SCAN); undefined without Redis. */
  keyCounts(): Promise<{ total: number; byCategory: Record<string, number> } | undefined>;
  stats(): CacheStats;
  close(): Promise<void>;
}

export interface CreateCacheOptions {
  /** Absent (and no `l2`): the cache is in-process only (L1). */
  redis?: Redis;
  /** Another L2 in place of the Redis one (tests inject failures with it); its invalidations stay local. */
  l2?: CacheL2;
  prefix: string;
  logger: Logger;
  config: CacheConfig;
  /** Listen for other instances' invalidations (servers: yes; a one-shot CLI: no). */
  subscribe?: boolean;
  /** Wall clock, ms since epoch, only for display: freshness never compares wall clocks. */
  now?: () => number;
  /** Local monotonic clock, ms: L1 deadlines, generation refresh, lock waits, the breaker cooldown. */
  monotonic?: () => number;
}
