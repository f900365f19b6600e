import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CacheConfig } from "../../../server/config/config.js";
import { type Cache, createCache } from "../../../server/domain/cache/cache.js";
import { cacheKeys } from "../../../server/domain/cache/keys.js";
import { createRedisL2 } from "../../../server/domain/cache/redis-l2.js";
import type { Redis } from "../../../server/infra/redis/redis-client.js";
import { uniquePrefix } from "../../helpers/app.js";
import { type ChaosL2, chaosL2, InjectedL2Error } from "../../helpers/cache-chaos-l2.js";
import { CONTRACT_CONFIG } from "../../helpers/cache-contract-suite.js";
import { l2ContractSuite } from "../../helpers/cache-l2-contract-suite.js";
import { testRedisClient } from "../../helpers/fixtures.js";
import { capturingLogger, silentLogger } from "../../helpers/logger.js";
import { sleep } from "../../helpers/sleep.js";

let redis: Redis;

beforeAll(async () => {
  redis = await testRedisClient();
});

const redisL2 = () => createRedisL2({ redis, keys: cacheKeys(uniquePrefix()) });
const nothingToClose = async () => undefined;

l2ContractSuite("Redis", async () => ({ l2: redisL2(), close: nothingToClose }));
l2ContractSuite("failure-injecting wrapper, no fault injected", async () => ({
  l2: chaosL2(redisL2()),
  close: nothingToClose,
}));

describe("the failure-injecting L2", () => {
  it("throws or hangs on the chosen operations only, and heals", async () => {
    const l2 = chaosL2(redisL2());
    await l2.set("things", 0, "a", "1", 60_000, 0);
    l2.fail("throw", ["get"]);
    await expect(l2.get("things", 0, "a")).rejects.toBeInstanceOf(InjectedL2Error);
    expect(await l2.generation("things")).toBe(0);
    l2.fail("hang", ["count"]);
    const hung = l2.count("things", 0);
    const raced = await Promise.race([
      hung.then(() => "answered"),
      new Promise((r) => setTimeout(r, 200, "hung")),
    ]);
    expect(raced).toBe("hung");
    l2.heal();
    await expect(hung).rejects.toBeInstanceOf(InjectedL2Error);
    expect((await l2.get("things", 0, "a"))?.json).toBe("1");
  });
});

describe("the loading lease", () => {
  it("loads once when the first loader stores and lets go between another's read and its lock", async () => {
    const shared = createRedisL2({ redis, keys: cacheKeys(uniquePrefix()) });
    const late = chaosL2(shared);
    const first = createCache({ l2: shared, prefix: "a", logger: silentLogger(), config: CONTRACT_CONFIG });
    const second = createCache({ l2: late, prefix: "b", logger: silentLogger(), config: CONTRACT_CONFIG });
    let loads = 0;
    const loader = async () => {
      loads++;
      await sleep(50);
      return "value";
    };
    try {
      const firstDone = first.getOrSet("things", "k", loader);
      // The second instance has read (a miss) but takes the lock only after the first is done.
      late.hold("acquireLock", firstDone);
      const [a, b] = await Promise.all([firstDone, second.getOrSetWithStatus("things", "k", loader)]);
      expect(a).toBe("value");
      expect(b).toEqual({ value: "value", status: "hit" });
      expect(loads).toBe(1);
      expect(late.calls.get).toBe(2);
      // The lease it took to check was given back.
      expect(await shared.acquireLock("things", 0, "k", 1000)).toEqual(expect.any(String));
    } finally {
      await first.close();
      await second.close();
    }
  });
});

describe("the cache front when its L2 fails", () => {
  const open: Cache[] = [];
  afterEach(async () => {
    for (const cache of open.splice(0)) await cache.close();
  });

  function make(config: Partial<CacheConfig> = {}, logger = silentLogger()): { cache: Cache; l2: ChaosL2 } {
    const l2 = chaosL2(redisL2());
    const cache = createCache({
      l2,
      prefix: uniquePrefix(),
      logger,
      config: {
        ...CONTRACT_CONFIG,
        breakerThreshold: 3,
        breakerCooldownMs: 300,
        l2TimeoutMs: 150,
        ...config,
      },
    });
    open.push(cache);
    return { cache, l2 };
  }

  it("serves L1, runs loaders and lets no exception escape while every L2 call throws", async () => {
    const { cache, l2 } = make({ breakerThreshold: 1000 });
    await cache.set("things", "warm", { v: 1 });
    l2.fail("throw");
    expect(await cache.get("things", "warm")).toEqual({ v: 1 });
    expect(await cache.get("things", "cold")).toBeUndefined();
    let loads = 0;
    expect(await cache.getOrSetWithStatus("things", "k", async () => ++loads)).toEqual({
      value: 1,
      status: "miss",
    });
    // The loaded value is kept in L1 even though L2 refused it.
    expect(await cache.getOrSetWithStatus("things", "k", async () => ++loads)).toEqual({
      value: 1,
      status: "hit",
    });
    await expect(cache.set("things", "w", 2)).resolves.toBeUndefined();
    expect(await cache.get("things", "w")).toBe(2);
    await expect(cache.delete("things", "w")).resolves.toBeUndefined();
    expect(await cache.get("things", "w")).toBeUndefined();
    expect(await cache.invalidate("things")).toEqual({ categories: ["things"], redis: "unavailable" });
    expect(await cache.get("things", "warm")).toBeUndefined();
    expect(await cache.keyCounts()).toBeUndefined();
    expect(cache.stats().l2.failures).toBeGreaterThanOrEqual(8);
  });

  it("serves a stale L1 value within grace when both the loader and L2 fail, and stops after grace", async () => {
    const { cache, l2 } = make();
    const opts = { ttlMs: 100, graceMs: 500 };
    await cache.getOrSet("things", "g", async () => "old", opts);
    l2.fail("throw");
    await sleep(200);
    const failing = async (): Promise<string> => {
      throw new Error("upstream down");
    };
    expect(await cache.getOrSetWithStatus("things", "g", failing, opts)).toEqual({
      value: "old",
      status: "stale",
    });
    await sleep(500);
    await expect(cache.getOrSet("things", "g", failing, opts)).rejects.toThrow("upstream down");
  });

  it("bounds a hanging L2 by CACHE_L2_TIMEOUT_MS, opens the breaker, skips L2 while open and closes after a good probe", async () => {
    const { logger, lines } = capturingLogger("info");
    const { cache, l2 } = make({}, logger);
    await cache.set("things", "warm", "w");
    l2.fail("hang");
    const started = performance.now();
    let loads = 0;
    for (let i = 0; i < 3; i++)
      expect(await cache.getOrSet("things", `k${i}`, async () => ++loads)).toBe(i + 1);
    // Each call waits for at most one or two bounded L2 calls (150 ms each), never for the hang.
    expect(performance.now() - started).toBeLessThan(3 * 2 * 150 + 1000);
    expect(cache.stats().l2.breaker).toBe("open");
    expect(lines.some((l) => l.includes("Redis failing"))).toBe(true);

    const callsWhileOpen = { ...l2.calls };
    const quick = performance.now();
    expect(await cache.getOrSet("things", "open", async () => "direct")).toBe("direct");
    expect(await cache.get("things", "warm")).toBe("w");
    expect(await cache.get("things", "absent")).toBeUndefined();
    expect(performance.now() - quick).toBeLessThan(100);
    expect(l2.calls).toEqual(callsWhileOpen);

    l2.heal();
    await sleep(350); // the cooldown
    expect(cache.stats().l2.breaker).toBe("half-open");
    await cache.set("things", "back", "b");
    expect(cache.stats().l2.breaker).toBe("closed");
    expect(lines.some((l) => l.includes("L2 resumed"))).toBe(true);
    expect((await cache.inspect("things", "back"))?.value).toBe("b");
  });

  it("runs the loader when only the lease or the write fails", async () => {
    const { cache, l2 } = make({ breakerThreshold: 1000 });
    l2.fail("throw", ["acquireLock"]);
    let loads = 0;
    expect(await cache.getOrSet("things", "a", async () => ++loads)).toBe(1);
    l2.heal();
    l2.fail("throw", ["set"]);
    expect(await cache.getOrSet("things", "b", async () => ++loads)).toBe(2);
    expect(await cache.getOrSet("things", "b", async () => ++loads)).toBe(2); // L1
    expect(loads).toBe(2);
    l2.heal();
    expect(await cache.keyCounts()).toEqual({ total: 1, byCategory: { models: 0, users: 0, things: 1 } });
  });

  it("loads for itself when its L2 reads fail, while another instance on the same Redis is unaffected", async () => {
    const shared = createRedisL2({ redis, keys: cacheKeys(uniquePrefix()) });
    const flaky = chaosL2(shared);
    const healthy = createCache({ l2: shared, prefix: "a", logger: silentLogger(), config: CONTRACT_CONFIG });
    const reader = createCache({ l2: flaky, prefix: "b", logger: silentLogger(), config: CONTRACT_CONFIG });
    open.push(healthy, reader);
    await healthy.set("things", "x", "from a");
    expect(await reader.get("things", "x")).toBe("from a");
    await healthy.set("things", "y", "from a");
    flaky.fail("throw", ["get"]);
    expect(await reader.getOrSetWithStatus("things", "y", async () => "loaded")).toEqual({
      value: "loaded",
      status: "miss",
    });
    expect(reader.stats().l2.failures).toBeGreaterThanOrEqual(1);
    // Its loaded value still reached the shared L2 for the others.
    expect((await shared.get("things", 0, "y"))?.json).toBe('"loaded"');
  });
});
