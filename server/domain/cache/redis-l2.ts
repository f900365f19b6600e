import { randomBytes } from "node:crypto";
import type { Redis } from "../../infra/redis/redis-client.js";
import { type CacheKeys, encodeKey } from "./keys.js";
import type { CacheL2, L2Entry } from "./l2.js";

const INDEX_PRUNE_EVERY = 100; // writes between removals of expired members from a category index

// Index scores are expiry times on the clock of the Redis node that holds the index, read with TIME
// inside the script, so no instance's clock is ever compared with another's.
const INDEX_ADD_LUA = `
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local px = tonumber(ARGV[2])
redis.call("ZADD", KEYS[1], now + px, ARGV[1])
if redis.call("PTTL", KEYS[1]) < px then redis.call("PEXPIRE", KEYS[1], px) end
if ARGV[3] == "1" then redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now) end
return 1`;

const INDEX_COUNT_LUA = `
local t = redis.call("TIME")
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
return redis.call("ZCARD", KEYS[1])`;

// Deletes the lock only if we still hold it (the lease may have expired and moved on).
const RELEASE_LOCK_LUA = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`;

type ScriptedRedis = Redis & {
  cacheIndexAdd(index: string, member: string, px: number, prune: "1" | "0"): Promise<number>;
  cacheIndexCount(index: string): Promise<number>;
  cacheReleaseLock(key: string, token: string): Promise<number>;
};

/**
 * A value is stored as `g<graceMs>:<json>` with PX = fresh + grace: Redis' own countdown (PTTL) says how
 * long it stays fresh (PTTL - grace) and servable. The `g` keeps entries of the older
 * `<expiresAt>:<graceUntil>:` format from being misread during a rolling deploy (they read as misses).
 */
export function encodeEntry(json: string, graceMs: number): string {
  return `g${Math.max(0, Math.round(graceMs))}:${json}`;
}

export function decodeEntry(raw: string | null, pttl: number): L2Entry | undefined {
  if (!raw?.startsWith("g") || pttl <= 0) return undefined;
  const colon = raw.indexOf(":");
  const grace = Number(raw.slice(1, colon));
  if (colon < 0 || !Number.isFinite(grace)) return undefined;
  return { json: raw.slice(colon + 1), freshMs: pttl - grace, graceMs: pttl };
}

/** The Redis L2: values, generations, loading leases and the per-category index of live keys. */
export function createRedisL2(options: { redis: Redis; keys: CacheKeys }): CacheL2 {
  const { keys } = options;
  const redis = options.redis as ScriptedRedis;
  if (!("cacheIndexAdd" in options.redis)) {
    options.redis.defineCommand("cacheIndexAdd", { numberOfKeys: 1, lua: INDEX_ADD_LUA });
    options.redis.defineCommand("cacheIndexCount", { numberOfKeys: 1, lua: INDEX_COUNT_LUA });
    options.redis.defineCommand("cacheReleaseLock", { numberOfKeys: 1, lua: RELEASE_LOCK_LUA });
  }
  let writes = 0;

  const read = async (key: string) => {
    const [raw, pttl] = await Promise.all([redis.get(key), redis.pttl(key)]);
    return { raw, entry: decodeEntry(raw, pttl) };
  };

  return {
    kind: "redis",

    async generation(category) {
      const raw = await redis.get(keys.generation(category));
      return raw ? Number(raw) : 0;
    },

    bumpGeneration: (category) => redis.incr(keys.generation(category)),

    async get(category, gen, key) {
      return (await read(keys.value(category, gen, key))).entry;
    },

    async set(category, gen, key, json, freshMs, graceMs) {
      const px = Math.ceil(freshMs + graceMs);
      if (px <= 0) return;
      const prune = ++writes % INDEX_PRUNE_EVERY === 0 ? "1" : "0";
      await Promise.all([
        redis.set(keys.value(category, gen, key), encodeEntry(json, graceMs), "PX", px),
        redis.cacheIndexAdd(keys.index(category, gen), encodeKey(key), px, prune),
      ]);
    },

    async delete(category, gen, key) {
      await Promise.all([
        redis.del(keys.value(category, gen, key)),
        redis.zrem(keys.index(category, gen), encodeKey(key)),
      ]);
    },

    async acquireLock(category, gen, key, leaseMs) {
      const token = randomBytes(12).toString("hex");
      const got = await redis.set(keys.lock(category, gen, key), token, "PX", Math.ceil(leaseMs), "NX");
      return got === "OK" ? token : undefined;
    },

    async releaseLock(category, gen, key, token) {
      await redis.cacheReleaseLock(keys.lock(category, gen, key), token);
    },

    count: (category, gen) => redis.cacheIndexCount(keys.index(category, gen)),

    async inspect(category, gen, key) {
      const location = keys.value(category, gen, key);
      const { raw, entry } = await read(location);
      if (!entry || raw === null) return undefined;
      return { ...entry, location, sizeBytes: Buffer.byteLength(raw) };
    },
  };
}
