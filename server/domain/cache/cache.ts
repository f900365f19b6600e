import { withBreaker } from "./breaker-l2.js";
import { createCircuitBreaker } from "./circuit-breaker.js";
import { UnknownCategoryError } from "./errors.js";
import { createGenerations } from "./generations.js";
import { createMissResolver } from "./get-or-set.js";
import { type BusMessage, createLocalBus, createRedisBus } from "./invalidation-bus.js";
import { assertCategory, cacheKeys, encodeKey } from "./keys.js";
import { createL1, type L1Entry, localEntry } from "./l1.js";
import { createLeaseCoordinator } from "./loader.js";
import { createRedisL2 } from "./redis-l2.js";
import { createCounters } from "./stats.js";
import type { Cache, CacheCallOptions, CreateCacheOptions, Loader } from "./types.js";

export { CacheLoaderTimeoutError, UnknownCategoryError } from "./errors.js";
export type {
  Cache,
  CacheCallOptions,
  CacheStats,
  CacheStatus,
  CategoryStats,
  CreateCacheOptions,
  InspectResult,
  InvalidateResult,
  Loader,
} from "./types.js";

/**
 * The two-tier cache: in-process LRU (L1) in front of a shared L2 (Redis), kept coherent across
 * instances by generations and the invalidation bus. This front only decides; the layers do the work.
 */
export function createCache(options: CreateCacheOptions): Cache {
  const { redis, prefix, config } = options;
  const log = options.logger.child({ component: "cache" });
  const keys = cacheKeys(prefix);
  const monotonic = options.monotonic ?? (() => performance.now());
  const wallClock = options.now ?? Date.now;
  const categories = Object.keys(config.categories);
  for (const c of categories) assertCategory(c);

  const counters = createCounters(categories);
  const l1 = createL1({ maxEntries: config.l1MaxEntries, maxBytes: config.l1MaxBytes, monotonic });
  const generations = createGenerations(monotonic);
  let closed = false;

  const breaker = createCircuitBreaker({
    threshold: config.breakerThreshold,
    cooldownMs: config.breakerCooldownMs,
    timeoutMs: config.l2TimeoutMs,
    now: monotonic,
    onStateChange: (state, cause) => {
      if (state === "open") {
        log.warn(
          { cooldownMs: config.breakerCooldownMs, err: cause ? { message: cause.message } : undefined },
          "cache: Redis failing, serving L1 and loaders only until a probe succeeds",
        );
      } else if (state === "closed") {
        log.info("cache: Redis answers again, L2 resumed");
      }
    },
  });
  const base = options.l2 ?? (redis ? createRedisL2({ redis, keys }) : undefined);
  const l2 = base && withBreaker(base, breaker);
  if (!l2) {
    log.info("cache: no Redis configured; the cache is in-process only (L1), not shared between instances");
  }

  const onL2Error = (op: string, err: unknown) => {
    log.debug({ op, err: { message: (err as Error).message } }, "cache: Redis call failed");
  };

  const known = (category: string) => {
    const counter = counters.of(category);
    if (!counter) throw new UnknownCategoryError(category, categories);
    return counter;
  };
  const l1Key = (category: string, encoded: string) => `${category}:${encoded}`;
  const ttlOf = (category: string, opts?: CacheCallOptions) =>
    opts?.ttlMs ?? (config.categories[category]?.ttlSeconds ?? 60) * 1000;
  const graceOf = (opts?: CacheCallOptions) => opts?.graceMs ?? config.graceSeconds * 1000;
  const newEntry = (json: string, ttlMs: number, graceMs: number): L1Entry => {
    const at = monotonic();
    return { json, freshUntil: at + ttlMs, graceUntil: at + ttlMs + graceMs };
  };
  const parse = <T>(json: string | undefined): T => (json === undefined ? undefined : JSON.parse(json)) as T;

  const generation = (category: string) =>
    generations.current(category, () => (l2 ? l2.generation(category) : Promise.resolve(0)));

  const onMessage = (message: BusMessage) => {
    if (!counters.of(message.c)) return;
    if (message.t === "key") {
      l1.invalidateKey(l1Key(message.c, message.k));
    } else {
      generations.learn(message.c, message.g);
      l1.invalidatePrefix(`${message.c}:`);
    }
  };
  const bus =
    redis && !options.l2
      ? createRedisBus(
          {
            redis,
            channel: keys.channel,
            connectionName: `${prefix}-cache-sub`,
            logger: log,
            subscribe: options.subscribe !== false,
            run: (fn) => breaker.run(fn),
          },
          {
            onMessage,
            onReconnect: () => {
              // Messages sent while we were away are lost: anything in L1 may be stale.
              l1.invalidateAll();
              generations.forgetAll();
              log.info({ reason: "invalidation channel reconnected" }, "cache: L1 flushed");
            },
          },
        )
      : createLocalBus();

  const coordinator = createLeaseCoordinator({
    l2,
    generation,
    monotonic,
    isClosed: () => closed,
    onL2Error,
  });

  async function writeL2(
    category: string,
    key: string,
    json: string,
    ttlMs: number,
    graceMs: number,
    gen?: number,
  ) {
    if (!l2) return false;
    try {
      await l2.set(category, gen ?? (await generation(category)), key, json, ttlMs, graceMs);
      return true;
    } catch (err) {
      onL2Error("write", err);
      return false;
    }
  }

  const misses = createMissResolver({
    l1,
    coordinator,
    counter: known,
    loaderTimeoutMs: config.loaderTimeoutMs,
    lockLeaseMs: config.lockLeaseMs,
    lifetimes: (category, opts) => ({ ttlMs: ttlOf(category, opts), graceMs: graceOf(opts) }),
    newEntry,
    store: writeL2,
    monotonic,
    log,
  });

  const cache: Cache = {
    categories,
    keys,

    async get<T>(category: string, key: string) {
      const counter = known(category);
      const encoded = encodeKey(key);
      const k = l1Key(category, encoded);
      const local = l1.get(k);
      if (local && local.freshUntil > monotonic()) {
        counter.hitsL1++;
        return parse<T>(local.json);
      }
      if (l2) {
        const guard = l1.watch(k);
        try {
          const found = await l2.get(category, await generation(category), key);
          if (found && found.freshMs > 0) {
            if (!guard.invalidated) l1.set(k, localEntry(found, monotonic()));
            counter.hitsL2++;
            return parse<T>(found.json);
          }
        } catch (err) {
          onL2Error("get", err);
        } finally {
          l1.unwatch(k, guard);
        }
      }
      counter.misses++;
      return undefined;
    },

    async set(category, key, value, opts) {
      known(category);
      const encoded = encodeKey(key);
      const json = JSON.stringify(value);
      if (json === undefined) throw new TypeError("cache values must be JSON-serialisable");
      const ttlMs = ttlOf(category, opts);
      const graceMs = graceOf(opts);
      const k = l1Key(category, encoded);
      l1.invalidateKey(k); // an older value being loaded meanwhile must not replace this one
      l1.set(k, newEntry(json, ttlMs, graceMs));
      if (await writeL2(category, key, json, ttlMs, graceMs)) {
        await bus.publish({ t: "key", c: category, k: encoded });
      }
    },

    async delete(category, key) {
      known(category);
      const encoded = encodeKey(key);
      l1.invalidateKey(l1Key(category, encoded));
      if (!l2) return;
      try {
        await l2.delete(category, await generation(category), key);
      } catch (err) {
        onL2Error("delete", err);
      }
      await bus.publish({ t: "key", c: category, k: encoded });
    },

    getOrSet: async (category, key, loader, opts) =>
      (await cache.getOrSetWithStatus(category, key, loader, opts)).value,

    async getOrSetWithStatus<T>(category: string, key: string, loader: Loader<T>, opts?: CacheCallOptions) {
      known(category);
      const encoded = encodeKey(key);
      const k = l1Key(category, encoded);
      const local = l1.get(k);
      if (local && local.freshUntil > monotonic()) {
        counters.record(category, "hit", "l1");
        return { value: parse<T>(local.json), status: "hit" as const };
      }
      // Concurrent callers in this process share one resolution; across processes the L2 lease decides.
      try {
        const resolved = await misses.resolve(category, key, k, loader, opts);
        counters.record(category, resolved.status, resolved.tier);
        return { value: parse<T>(resolved.json), status: resolved.status };
      } catch (err) {
        known(category).misses++;
        throw err;
      }
    },

    async invalidate(category) {
      const list = category === "all" ? [...categories] : [category];
      for (const c of list) known(c);
      for (const c of list) l1.invalidatePrefix(`${c}:`);
      if (!l2) return { categories: list, redis: "none" };
      let reached = true;
      for (const c of list) {
        try {
          const gen = await l2.bumpGeneration(c);
          generations.learn(c, gen);
          if (!(await bus.publish({ t: "category", c, g: gen }))) reached = false;
        } catch (err) {
          onL2Error("invalidate", err);
          generations.learn(c, undefined);
          reached = false;
        }
      }
      return { categories: list, redis: reached ? "ok" : "unavailable" };
    },

    async inspect(category, key) {
      known(category);
      if (!l2) return undefined;
      const found = await l2.inspect(category, await l2.generation(category), key);
      if (!found) return undefined;
      // Remaining lifetimes come from Redis; only the display turns them into this machine's dates.
      const at = wallClock();
      return {
        category,
        key,
        redisKey: found.location,
        value: JSON.parse(found.json),
        sizeBytes: found.sizeBytes,
        fresh: found.freshMs > 0,
        expiresAt: new Date(at + found.freshMs).toISOString(),
        graceUntil: new Date(at + found.graceMs).toISOString(),
        ttlMs: found.graceMs,
      };
    },

    async keyCounts() {
      if (!l2) return undefined;
      try {
        const byCategory: Record<string, number> = {};
        let total = 0;
        for (const c of categories) {
          const count = await l2.count(c, await l2.generation(c));
          byCategory[c] = count;
          total += count;
        }
        return { total, byCategory };
      } catch (err) {
        onL2Error("count", err);
        return undefined;
      }
    },

    stats() {
      return {
        categories: counters.snapshot(),
        l1: { ...l1.size(), maxEntries: config.l1MaxEntries, maxBytes: config.l1MaxBytes },
        l2: {
          mode: l2 ? l2.kind : "none",
          breaker: l2 ? breaker.state() : "disabled",
          failures: breaker.failures(),
          subscriber: bus.state(),
        },
      };
    },

    async close() {
      closed = true;
      await bus.close();
    },
  };
  return cache;
}
