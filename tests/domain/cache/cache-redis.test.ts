import { Redis as IORedis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CacheConfig } from "../../../server/config/config.js";
import { type Cache, createCache } from "../../../server/domain/cache/cache.js";
import type { Redis } from "../../../server/infra/redis/redis-client.js";
import { uniquePrefix } from "../../helpers/app.js";
import { CONTRACT_CONFIG } from "../../helpers/cache-contract-suite.js";
import { privateRedisServer, testRedisClient, waitUntil } from "../../helpers/fixtures.js";
import { silentLogger } from "../../helpers/logger.js";
import type { RedisServer } from "../../helpers/redis-server.js";
import { commandCalls, commandDiff } from "../../helpers/redis-stats.js";
import { sleep } from "../../helpers/sleep.js";

let server: RedisServer;
let admin: IORedis;
const open: Array<{ cache: Cache; redis: Redis }> = [];

const waitFor = (check: () => boolean | Promise<boolean>, timeoutMs = 10_000) =>
  waitUntil(check, timeoutMs, 25);

/** A cache on its own Redis connection, as one app instance would have. */
async function instance(prefix: string, config: Partial<CacheConfig> = {}) {
  const logger = silentLogger();
  const redis = await testRedisClient({ port: server.port, connectTimeoutMs: 1000 });
  const cache = createCache({ redis, prefix, logger, config: { ...CONTRACT_CONFIG, ...config } });
  open.push({ cache, redis });
  await waitFor(() => cache.stats().l2.subscriber === "ready");
  return { cache, redis };
}

beforeAll(async () => {
  // Its own server: tests count the commands Redis runs.
  server = await privateRedisServer();
  admin = new IORedis({ port: server.port, host: "127.0.0.1", lazyConnect: true });
  await admin.connect();
});

afterEach(async () => {
  for (const { cache, redis } of open.splice(0)) {
    await cache.close();
    redis.disconnect();
  }
});

afterAll(() => {
  admin?.disconnect();
});

describe("two tiers", () => {
  it("an L1 hit costs no Redis command; an L2 hit costs one GET and its PTTL", async () => {
    const prefix = uniquePrefix();
    const a = await instance(prefix);
    const b = await instance(prefix);
    await a.cache.set("things", "warm", 0);
    await a.cache.set("things", "k", { v: 1 });
    await b.cache.get("things", "warm"); // b learns the category's generation

    let before = await commandCalls(admin);
    expect(await b.cache.get("things", "k")).toEqual({ v: 1 });
    const l2Hit = commandDiff(before, await commandCalls(admin));
    // The value's freshness is Redis' own countdown (PTTL), sent with the GET in one round trip.
    expect(l2Hit).toEqual({ commands: { get: 1, pttl: 1 }, total: 2 });

    before = await commandCalls(admin);
    for (let i = 0; i < 100; i++) expect(await b.cache.get("things", "k")).toEqual({ v: 1 });
    for (let i = 0; i < 100; i++) await b.cache.getOrSet("things", "k", async () => ({ v: 2 }));
    const l1Hits = commandDiff(before, await commandCalls(admin));
    expect(l1Hits.total).toBe(0);
    expect(b.cache.stats().categories.things).toMatchObject({ hitsL1: 200, hitsL2: 2 });
    console.info(
      `[measure] L2 hit: ${JSON.stringify(l2Hit.commands)}; 200 L1 hits: ${l1Hits.total} commands`,
    );
  });

  it("100 concurrent getOrSet calls over two instances run the loader once", async () => {
    const prefix = uniquePrefix();
    const a = await instance(prefix);
    const b = await instance(prefix);
    let loads = 0;
    const loader = async () => {
      loads++;
      await sleep(300);
      return { list: ["x", "y"] };
    };
    const before = await commandCalls(admin);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).cache.getOrSet("models", "list", loader)),
    );
    const used = commandDiff(before, await commandCalls(admin));
    expect(loads).toBe(1);
    for (const r of results) expect(r).toEqual({ list: ["x", "y"] });
    console.info(`[measure] single-flight: loader calls ${loads}; Redis ${JSON.stringify(used)}`);
  });

  it("when the lock holder dies, its lease expires and a waiter loads", async () => {
    const prefix = uniquePrefix();
    const { cache } = await instance(prefix, { lockLeaseMs: 300 });
    // A holder that took the lease and died before storing anything.
    await admin.set(cache.keys.lock("models", 0, "list"), "dead-holder", "PX", 300);
    let loads = 0;
    const value = await cache.getOrSet("models", "list", async () => {
      loads++;
      return "loaded";
    });
    expect(value).toBe("loaded");
    expect(loads).toBe(1);
    expect(await admin.exists(cache.keys.lock("models", 0, "list"))).toBe(0);
  });
});

describe("invalidation across instances", () => {
  it("a set or delete on A drops B's L1 copy", async () => {
    const prefix = uniquePrefix();
    const a = await instance(prefix);
    const b = await instance(prefix);
    await a.cache.set("users", "u1", { email: "old@example.com" });
    expect(await b.cache.get("users", "u1")).toEqual({ email: "old@example.com" });

    await a.cache.set("users", "u1", { email: "new@example.com" });
    await waitFor(
      async () => (await b.cache.get<{ email: string }>("users", "u1"))?.email === "new@example.com",
    );

    await a.cache.delete("users", "u1");
    await waitFor(async () => (await b.cache.get("users", "u1")) === undefined);
  });

  it("a category invalidation on A reaches B and leaves sessions, counters, other categories and apps alone", async () => {
    const prefix = uniquePrefix();
    const a = await instance(prefix);
    const b = await instance(prefix);
    const other = await instance(uniquePrefix());
    await a.cache.set("models", "list", ["m"]);
    await a.cache.set("users", "u1", { id: "u1" });
    await other.cache.set("models", "list", ["other app"]);
    await admin.set(`${prefix}:sess:abc`, "{}");
    await admin.set(`${prefix}:rl:1.2.3.4`, "3");
    expect(await b.cache.get("models", "list")).toEqual(["m"]);

    expect(await a.cache.invalidate("models")).toEqual({ categories: ["models"], redis: "ok" });
    await waitFor(async () => (await b.cache.get("models", "list")) === undefined);
    expect(await b.cache.get("users", "u1")).toEqual({ id: "u1" });
    expect(await other.cache.get("models", "list")).toEqual(["other app"]);
    expect(await admin.get(`${prefix}:sess:abc`)).toBe("{}");
    expect(await admin.get(`${prefix}:rl:1.2.3.4`)).toBe("3");
  });

  it("keeps every key under <prefix>:cache: and counts live keys without KEYS", async () => {
    const prefix = uniquePrefix();
    const { cache } = await instance(prefix);
    const before = await commandCalls(admin);
    await cache.set("users", "*", 1);
    await cache.set("users", "a:b:../c", 2);
    await cache.set("models", "list", 3);
    await cache.getOrSet("models", "slow", async () => 4);
    expect(await cache.keyCounts()).toEqual({ total: 4, byCategory: { models: 2, users: 2, things: 0 } });
    await cache.delete("users", "*");
    expect((await cache.keyCounts())?.total).toBe(3);
    const used = commandDiff(before, await commandCalls(admin)).commands;
    expect(used.keys).toBeUndefined();
    expect(used.scan).toBeUndefined();
    // Test-only listing of this private server.
    const all = await admin.keys(`${prefix}*`);
    for (const key of all) expect(key.startsWith(`${prefix}:cache:`)).toBe(true);
    expect(all).toContain(`${prefix}:cache:users:g0:k:a%3Ab%3A..%2Fc`);
  });
});

describe("when Redis fails", () => {
  it("serves L1 and loaders without hanging, opens the breaker, flushes L1 and recovers after a restart", async () => {
    const prefix = uniquePrefix();
    const { cache } = await instance(prefix, {
      breakerThreshold: 2,
      breakerCooldownMs: 200,
      l2TimeoutMs: 300,
    });
    await cache.set("models", "list", ["cached"]);
    await server.kill();
    try {
      expect(await cache.get("models", "list")).toEqual(["cached"]); // L1
      let loads = 0;
      for (let i = 0; i < 5; i++) {
        expect(await cache.getOrSet("users", `u${i}`, async () => ++loads)).toBe(i + 1);
      }
      expect(cache.stats().l2.breaker).not.toBe("closed");
      expect(cache.stats().l2.failures).toBeGreaterThanOrEqual(2);
      expect(await cache.invalidate("users")).toEqual({ categories: ["users"], redis: "unavailable" });
      // While open, Redis is not even tried: the loader answers at once.
      expect(await cache.getOrSet("users", "fast", async () => "direct")).toBe("direct");
    } finally {
      await server.start();
    }
    await waitFor(async () => {
      await cache.get("things", "probe");
      return cache.stats().l2.breaker === "closed" && cache.stats().l2.subscriber === "ready";
    }, 20_000);
    // The invalidation channel reconnected: L1 was flushed, since messages may have been missed.
    expect(await cache.get("models", "list")).toBeUndefined();
    await cache.set("models", "list", ["again"]);
    expect(await admin.exists(cache.keys.value("models", 0, "list"))).toBe(1);
  });
});
