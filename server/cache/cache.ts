import { randomBytes } from "node:crypto";
import { Cluster } from "ioredis";
import { LRUCache } from "lru-cache";
import type { CacheConfig } from "../config/config.js";
import type { Logger } from "../logging/logger.js";
import type { Redis } from "../redis/redis-client.js";
import { type BreakerState, createCircuitBreaker } from "./circuit-breaker.js";
import { assertCategory, CacheKeyError, type CacheKeys, cacheKeys, encodeKey } from "./keys.js";

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

export class UnknownCategoryError extends CacheKeyError {
  constructor(category: string, known: readonly string[]) {
    super(`unknown cache category ${JSON.stringify(category)} (known: ${known.join(", ")})`);
    this.name = "UnknownCategoryError";
  }
}

export class CacheLoaderTimeoutError extends Error {
  static readonly code = "cache_loader_timeout";
  constructor(timeoutMs: number) {
    super(`cache loader took longer than ${timeoutMs} ms`);
    this.name = "CacheLoaderTimeoutError";
  }
}

export interface CreateCacheOptions {
  /** Absent: the cache is in-process only (L1). */
  redis?: Redis;
  prefix: string;
  logger: Logger;
  config: CacheConfig;
  /** Listen for other instances' invalidations (servers: yes; a one-shot CLI: no). */
  subscribe?: boolean;
}

interface Entry {
  /** The value as JSON text; parsed on every read so callers never share (and mutate) one object. */
  json: string;
  /** Fresh until, ms since epoch. */
  expiresAt: number;
  /** Servable as stale until, ms since epoch. */
  graceUntil: number;
}

interface Resolved {
  json: string | undefined;
  status: CacheStatus;
  tier?: "l1" | "l2";
}

interface Guard {
  invalidated: boolean;
}

interface Message {
  o: string;
  t: "key" | "category";
  c: string;
  k?: string;
  g?: number;
}

// Trust a generation read from Redis this long; pub/sub updates it sooner, this bounds a missed message.
const GENERATION_REFRESH_MS = 10_000;
const POLL_MS = 50; // how often a waiter looks for the value another instance is loading
const LEASE_MARGIN_MS = 1000; // lease beyond a call's own loader timeout
const INDEX_PRUNE_EVERY = 100; // writes between removals of expired members from a category index
const L1_ENTRY_OVERHEAD = 64; // bytes counted per L1 entry on top of its key and JSON

type LockRedis = Redis & { cacheReleaseLock(key: string, token: string): Promise<number> };

// Deletes the lock only if we still hold it (the lease may have expired and moved on).
const RELEASE_LOCK_LUA = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function encodeEntry(entry: Entry): string {
  return `${entry.expiresAt}:${entry.graceUntil}:${entry.json}`;
}

function decodeEntry(raw: string | null): Entry | undefined {
  if (!raw) return undefined;
  const a = raw.indexOf(":");
  const b = raw.indexOf(":", a + 1);
  if (a < 0 || b < 0) return undefined;
  const expiresAt = Number(raw.slice(0, a));
  const graceUntil = Number(raw.slice(a + 1, b));
  if (!Number.isFinite(expiresAt) || !Number.isFinite(graceUntil)) return undefined;
  return { expiresAt, graceUntil, json: raw.slice(b + 1) };
}

/** A new connection with the same (fail-fast) options; we subscribe again ourselves on every `ready`. */
function subscriberFor(redis: Redis, name: string): Redis {
  if (redis instanceof Cluster) {
    return redis.duplicate(undefined, {
      redisOptions: { ...redis.options.redisOptions, connectionName: name, autoResubscribe: false },
    });
  }
  return redis.duplicate({ connectionName: name, autoResubscribe: false });
}

/** The two-tier cache: in-process LRU (L1) in front of Redis (L2), shared and invalidated across instances. */
export function createCache(options: CreateCacheOptions): Cache {
  const { redis, prefix, config } = options;
  const log = options.logger.child({ component: "cache" });
  const keys = cacheKeys(prefix);
  const instanceId = randomBytes(8).toString("hex");
  const categories = Object.keys(config.categories);
  for (const c of categories) assertCategory(c);

  const counters = new Map<string, Omit<CategoryStats, "hits" | "hitRate">>();
  for (const c of categories) {
    counters.set(c, { hitsL1: 0, hitsL2: 0, misses: 0, stale: 0, loads: 0, loaderErrors: 0 });
  }

  const l1 = new LRUCache<string, Entry>({
    max: config.l1MaxEntries,
    maxSize: config.l1MaxBytes,
    sizeCalculation: (entry, key) => entry.json.length * 2 + key.length * 2 + L1_ENTRY_OVERHEAD,
  });
  // Reads and loads in flight, by L1 key: an invalidation that lands meanwhile marks them, so a value
  // read or loaded before it is neither put back in L1 nor stored in Redis.
  const watchers = new Map<string, Set<Guard>>();
  const generations = new Map<string, { gen: number; at: number }>();
  let generationEpoch = 0; // bumped when a category message or a flush changes what `generations` should hold
  const inflight = new Map<string, Promise<Resolved>>();
  let writes = 0;
  let closed = false;

  const breaker = createCircuitBreaker({
    threshold: config.breakerThreshold,
    cooldownMs: config.breakerCooldownMs,
    timeoutMs: config.l2TimeoutMs,
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

  if (redis && !("cacheReleaseLock" in redis)) {
    redis.defineCommand("cacheReleaseLock", { numberOfKeys: 1, lua: RELEASE_LOCK_LUA });
  }
  if (!redis) {
    log.info("cache: no Redis configured; the cache is in-process only (L1), not shared between instances");
  }

  const l2 = <T>(fn: (client: LockRedis) => Promise<T>): Promise<T> =>
    redis ? breaker.run(() => fn(redis as LockRedis)) : Promise.reject(new Error("no Redis configured"));

  const l2Failed = (op: string) => (err: unknown) => {
    log.debug({ op, err: { message: (err as Error).message } }, "cache: Redis call failed");
  };

  const known = (category: string) => {
    if (!counters.has(category)) throw new UnknownCategoryError(category, categories);
    return counters.get(category) as NonNullable<ReturnType<typeof counters.get>>;
  };
  const l1Key = (category: string, encoded: string) => `${category}:${encoded}`;

  const ttlOf = (category: string, opts?: CacheCallOptions) =>
    opts?.ttlMs ?? (config.categories[category]?.ttlSeconds ?? 60) * 1000;
  const graceOf = (opts?: CacheCallOptions) => opts?.graceMs ?? config.graceSeconds * 1000;

  const writeL1 = (k: string, entry: Entry) => {
    const ttl = Math.ceil(entry.graceUntil - Date.now());
    if (ttl > 0) l1.set(k, entry, { ttl });
  };

  const watch = (k: string): Guard => {
    const guard = { invalidated: false };
    const set = watchers.get(k) ?? new Set<Guard>();
    set.add(guard);
    watchers.set(k, set);
    return guard;
  };
  const unwatch = (k: string, guard: Guard) => {
    const set = watchers.get(k);
    set?.delete(guard);
    if (set?.size === 0) watchers.delete(k);
  };
  const invalidateKeyL1 = (k: string) => {
    l1.delete(k);
    for (const guard of watchers.get(k) ?? []) guard.invalidated = true;
  };
  const dropCategoryL1 = (category: string) => {
    const start = `${category}:`;
    for (const k of [...l1.keys()]) if (k.startsWith(start)) l1.delete(k);
    for (const [k, set] of watchers)
      if (k.startsWith(start)) for (const guard of set) guard.invalidated = true;
  };

  const flushL1 = (reason: string) => {
    for (const set of watchers.values()) for (const guard of set) guard.invalidated = true;
    l1.clear();
    generations.clear();
    generationEpoch++;
    log.info({ reason }, "cache: L1 flushed");
  };

  async function generation(category: string): Promise<number> {
    const cached = generations.get(category);
    if (cached && Date.now() - cached.at < GENERATION_REFRESH_MS) return cached.gen;
    const before = generationEpoch;
    const raw = await l2((r) => r.get(keys.generation(category)));
    const gen = raw ? Number(raw) : 0;
    // An invalidation message that arrived meanwhile carries a newer number than this read.
    if (generationEpoch === before) generations.set(category, { gen, at: Date.now() });
    return generations.get(category)?.gen ?? gen;
  }

  async function readL2(category: string, gen: number, key: string): Promise<Entry | undefined> {
    return decodeEntry(await l2((r) => r.get(keys.value(category, gen, key))));
  }

  async function writeL2(category: string, key: string, entry: Entry, knownGen?: number): Promise<boolean> {
    if (!redis) return false;
    try {
      const gen = knownGen ?? (await generation(category));
      const px = Math.ceil(entry.graceUntil - Date.now());
      if (px <= 0) return true;
      const indexKey = keys.index(category, gen);
      const indexPx = Math.max(px, ttlOf(category) + graceOf());
      const prune = ++writes % INDEX_PRUNE_EVERY === 0;
      await l2((r) =>
        Promise.all([
          r.set(keys.value(category, gen, key), encodeEntry(entry), "PX", px),
          r.zadd(indexKey, entry.graceUntil, encodeKey(key)),
          r.pexpire(indexKey, indexPx),
          prune ? r.zremrangebyscore(indexKey, "-inf", Date.now()) : Promise.resolve(0),
        ]),
      );
      return true;
    } catch (err) {
      l2Failed("write")(err);
      return false;
    }
  }

  async function publish(message: Omit<Message, "o">): Promise<boolean> {
    try {
      await l2((r) => r.publish(keys.channel, JSON.stringify({ o: instanceId, ...message })));
      return true;
    } catch (err) {
      l2Failed("publish")(err);
      return false;
    }
  }

  function onMessage(channel: string, text: string) {
    if (channel !== keys.channel) return;
    let message: Message;
    try {
      message = JSON.parse(text) as Message;
    } catch {
      return;
    }
    if (message.o === instanceId || !counters.has(message.c)) return;
    if (message.t === "key" && typeof message.k === "string") {
      invalidateKeyL1(l1Key(message.c, message.k));
    } else if (message.t === "category") {
      generationEpoch++;
      dropCategoryL1(message.c);
      if (typeof message.g === "number") generations.set(message.c, { gen: message.g, at: Date.now() });
      else generations.delete(message.c);
    }
  }

  // Invalidations reach other instances over a dedicated subscriber connection (a subscribed
  // connection cannot run ordinary commands in RESP2). It copies the main client's fail-fast options.
  let subscriber: Redis | undefined;
  let subscriberReady = false;
  if (redis && options.subscribe !== false) {
    const sub = subscriberFor(redis, `${prefix}-cache-sub`);
    subscriber = sub;
    let wasReady = false;
    let lastError = "";
    sub.on("ready", () => {
      if (closed) return;
      sub.subscribe(keys.channel).then(
        () => {
          subscriberReady = true;
          // Messages sent while we were away are lost: anything in L1 may be stale.
          if (wasReady) flushL1("invalidation channel reconnected");
          wasReady = true;
        },
        (err: Error) => {
          if (!closed) log.warn({ err: { message: err.message } }, "cache: subscribe failed");
        },
      );
    });
    sub.on("close", () => {
      subscriberReady = false;
    });
    sub.on("error", (err: Error) => {
      if (err.message === lastError) return;
      lastError = err.message;
      log.warn({ err: { message: err.message } }, "cache: invalidation channel error");
    });
    sub.on("message", onMessage);
    if (sub.status === "wait") sub.connect().catch(() => undefined); // retries in the background
  }

  async function runLoader<T>(loader: Loader<T>, timeoutMs: number): Promise<T> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new CacheLoaderTimeoutError(timeoutMs);
        controller.abort(err);
        reject(err);
      }, timeoutMs);
    });
    try {
      return await Promise.race([loader({ signal: controller.signal }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Decides who loads: returns a value another instance stored, or tells us to load (holding the lock or not). */
  async function coordinate(
    category: string,
    key: string,
    leaseMs: number,
    guard: Guard,
    staleRef: { entry?: Entry },
  ): Promise<{ found: Entry } | { lock?: { key: string; token: string }; gen?: number }> {
    if (!redis) return {};
    let gen: number | undefined;
    try {
      gen = await generation(category);
      const entry = await readL2(category, gen, key);
      const now = Date.now();
      if (entry && entry.expiresAt > now) return { found: entry };
      if (
        entry &&
        entry.graceUntil > now &&
        (!staleRef.entry || entry.expiresAt > staleRef.entry.expiresAt)
      ) {
        staleRef.entry = entry;
      }
      const lockKey = keys.lock(category, gen, key);
      const token = randomBytes(12).toString("hex");
      const deadline = now + leaseMs;
      for (;;) {
        const got = await l2((r) => r.set(lockKey, token, "PX", leaseMs, "NX"));
        if (got === "OK") return { lock: { key: lockKey, token }, gen };
        // Past the lease the holder is presumed dead; after an invalidation the awaited value is outdated.
        if (Date.now() >= deadline || closed || guard.invalidated) return { gen };
        await sleep(POLL_MS / 2 + Math.random() * POLL_MS);
        const landed = await readL2(category, gen, key);
        if (landed && landed.expiresAt > Date.now()) return { found: landed };
      }
    } catch (err) {
      l2Failed("coordinate")(err);
      return { gen };
    }
  }

  async function resolveMiss<T>(
    category: string,
    key: string,
    encoded: string,
    loader: Loader<T>,
    opts: CacheCallOptions | undefined,
  ): Promise<Resolved> {
    const k = l1Key(category, encoded);
    const guard = watch(k);
    const staleRef: { entry?: Entry } = { entry: l1.get(k) };
    const timeoutMs = opts?.timeoutMs ?? config.loaderTimeoutMs;
    const leaseMs = Math.max(config.lockLeaseMs, timeoutMs + LEASE_MARGIN_MS);

    const plan = await coordinate(category, key, leaseMs, guard, staleRef).catch((err) => {
      unwatch(k, guard);
      throw err;
    });
    if ("found" in plan) {
      if (!guard.invalidated) writeL1(k, plan.found);
      unwatch(k, guard);
      return { json: plan.found.json, status: "hit", tier: "l2" };
    }
    const counter = known(category);
    try {
      counter.loads++;
      const value = await runLoader(loader, timeoutMs);
      if (value === undefined) return { json: undefined, status: "miss" };
      const json = JSON.stringify(value);
      if (value === null || json === undefined) return { json, status: "miss" };
      const now = Date.now();
      const ttlMs = ttlOf(category, opts);
      const entry: Entry = { json, expiresAt: now + ttlMs, graceUntil: now + ttlMs + graceOf(opts) };
      // Invalidated while loading: the value may predate the change, so it is returned but not kept.
      if (!guard.invalidated) {
        writeL1(k, entry);
        if (plan.gen !== undefined) await writeL2(category, key, entry, plan.gen);
      }
      return { json, status: "miss" };
    } catch (err) {
      counter.loaderErrors++;
      const stale = staleRef.entry;
      if (stale && stale.graceUntil > Date.now()) {
        log.warn(
          { category, err: { name: (err as Error).name, message: (err as Error).message } },
          "cache: loader failed, serving a stale value",
        );
        return { json: stale.json, status: "stale" };
      }
      throw err;
    } finally {
      unwatch(k, guard);
      if (plan.lock) {
        const { key: lockKey, token } = plan.lock;
        await l2((r) => r.cacheReleaseLock(lockKey, token)).catch(l2Failed("unlock"));
      }
    }
  }

  const record = (category: string, resolved: Resolved) => {
    const c = known(category);
    if (resolved.status === "stale") c.stale++;
    else if (resolved.status === "miss") c.misses++;
    else if (resolved.tier === "l1") c.hitsL1++;
    else c.hitsL2++;
  };

  const parse = <T>(json: string | undefined): T => (json === undefined ? undefined : JSON.parse(json)) as T;

  const cache: Cache = {
    categories,
    keys,

    async get<T>(category: string, key: string) {
      const counter = known(category);
      const encoded = encodeKey(key);
      const k = l1Key(category, encoded);
      const local = l1.get(k);
      if (local && local.expiresAt > Date.now()) {
        counter.hitsL1++;
        return parse<T>(local.json);
      }
      if (redis) {
        const guard = watch(k);
        try {
          const entry = await readL2(category, await generation(category), key);
          if (entry && entry.expiresAt > Date.now()) {
            if (!guard.invalidated) writeL1(k, entry);
            counter.hitsL2++;
            return parse<T>(entry.json);
          }
        } catch (err) {
          l2Failed("get")(err);
        } finally {
          unwatch(k, guard);
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
      const now = Date.now();
      const ttlMs = ttlOf(category, opts);
      const entry: Entry = { json, expiresAt: now + ttlMs, graceUntil: now + ttlMs + graceOf(opts) };
      const k = l1Key(category, encoded);
      invalidateKeyL1(k); // an older value being loaded meanwhile must not replace this one
      writeL1(k, entry);
      if (redis && (await writeL2(category, key, entry))) {
        await publish({ t: "key", c: category, k: encoded });
      }
    },

    async delete(category, key) {
      known(category);
      const encoded = encodeKey(key);
      invalidateKeyL1(l1Key(category, encoded));
      if (!redis) return;
      try {
        const gen = await generation(category);
        await l2((r) =>
          Promise.all([r.del(keys.value(category, gen, key)), r.zrem(keys.index(category, gen), encoded)]),
        );
      } catch (err) {
        l2Failed("delete")(err);
      }
      await publish({ t: "key", c: category, k: encoded });
    },

    getOrSet: async (category, key, loader, opts) =>
      (await cache.getOrSetWithStatus(category, key, loader, opts)).value,

    async getOrSetWithStatus<T>(category: string, key: string, loader: Loader<T>, opts?: CacheCallOptions) {
      known(category);
      const encoded = encodeKey(key);
      const k = l1Key(category, encoded);
      const local = l1.get(k);
      if (local && local.expiresAt > Date.now()) {
        record(category, { json: local.json, status: "hit", tier: "l1" });
        return { value: parse<T>(local.json), status: "hit" as const };
      }
      // Concurrent callers in this process share one resolution; across processes the Redis lease decides.
      let pending = inflight.get(k);
      if (!pending) {
        pending = resolveMiss(category, key, encoded, loader, opts).finally(() => inflight.delete(k));
        inflight.set(k, pending);
      }
      try {
        const resolved = await pending;
        record(category, resolved);
        return { value: parse<T>(resolved.json), status: resolved.status };
      } catch (err) {
        known(category).misses++;
        throw err;
      }
    },

    async invalidate(category) {
      const list = category === "all" ? [...categories] : [category];
      for (const c of list) known(c);
      for (const c of list) dropCategoryL1(c);
      if (!redis) return { categories: list, redis: "none" };
      let reached = true;
      for (const c of list) {
        try {
          const gen = await l2((r) => r.incr(keys.generation(c)));
          generationEpoch++;
          generations.set(c, { gen, at: Date.now() });
          if (!(await publish({ t: "category", c, g: gen }))) reached = false;
        } catch (err) {
          l2Failed("invalidate")(err);
          generations.delete(c);
          reached = false;
        }
      }
      return { categories: list, redis: reached ? "ok" : "unavailable" };
    },

    async inspect(category, key) {
      known(category);
      if (!redis) return undefined;
      const gen = await l2((r) => r.get(keys.generation(category)));
      const redisKey = keys.value(category, gen ? Number(gen) : 0, key);
      const [raw, pttl] = await l2((r) => Promise.all([r.get(redisKey), r.pttl(redisKey)]));
      const entry = decodeEntry(raw);
      if (!entry || raw === null) return undefined;
      return {
        category,
        key,
        redisKey,
        value: JSON.parse(entry.json),
        sizeBytes: Buffer.byteLength(raw),
        fresh: entry.expiresAt > Date.now(),
        expiresAt: new Date(entry.expiresAt).toISOString(),
        graceUntil: new Date(entry.graceUntil).toISOString(),
        ttlMs: pttl,
      };
    },

    async keyCounts() {
      if (!redis) return undefined;
      try {
        const byCategory: Record<string, number> = {};
        let total = 0;
        for (const c of categories) {
          const gen = await l2((r) => r.get(keys.generation(c)));
          const index = keys.index(c, gen ? Number(gen) : 0);
          const [, count] = await l2((r) =>
            Promise.all([r.zremrangebyscore(index, "-inf", Date.now()), r.zcard(index)]),
          );
          byCategory[c] = count;
          total += count;
        }
        return { total, byCategory };
      } catch (err) {
        l2Failed("count")(err);
        return undefined;
      }
    },

    stats() {
      const out: Record<string, CategoryStats> = {};
      for (const [c, v] of counters) {
        const hits = v.hitsL1 + v.hitsL2;
        const calls = hits + v.misses + v.stale;
        out[c] = { hits, ...v, hitRate: calls === 0 ? 0 : Math.round((hits / calls) * 10_000) / 10_000 };
      }
      return {
        categories: out,
        l1: {
          entries: l1.size,
          bytes: l1.calculatedSize,
          maxEntries: config.l1MaxEntries,
          maxBytes: config.l1MaxBytes,
        },
        l2: {
          mode: redis ? "redis" : "none",
          breaker: redis ? breaker.state() : "disabled",
          failures: breaker.failures(),
          subscriber: subscriber ? (subscriberReady ? "ready" : "down") : "none",
        },
      };
    },

    async close() {
      closed = true;
      if (subscriber) {
        const sub = subscriber;
        subscriber = undefined;
        await sub.quit().catch(() => sub.disconnect());
      }
    },
  };
  return cache;
}
