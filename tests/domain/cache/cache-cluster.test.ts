import { Cluster } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../server/config/config.js";
import { type Cache, createCache } from "../../../server/domain/cache/cache.js";
import { connectRedis, createRedisClient, type Redis } from "../../../server/infra/redis/redis-client.js";
import { testEnv } from "../../helpers/app.js";
import { CONTRACT_CONFIG } from "../../helpers/cache-contract-suite.js";
import { sharedRedisCluster } from "../../helpers/fixtures.js";
import { silentLogger } from "../../helpers/logger.js";
import { sleep } from "../../helpers/sleep.js";

const open: Array<{ cache: Cache; redis: Redis }> = [];

afterAll(async () => {
  for (const { cache, redis } of open) {
    await cache.close();
    redis.disconnect();
  }
});

async function instance(prefix: string) {
  const config = loadConfig(
    testEnv({
      REDIS_URL: sharedRedisCluster().url,
      REDIS_CLUSTER: "true",
      KEY_PREFIX: prefix,
      REDIS_COMMAND_TIMEOUT_MS: "5000",
    }),
  );
  const logger = silentLogger();
  const redis = createRedisClient(config.redis!, logger);
  await connectRedis(redis, logger);
  const cache = createCache({ redis, prefix, logger, config: CONTRACT_CONFIG });
  open.push({ cache, redis });
  await expect.poll(() => cache.stats().l2.subscriber, { timeout: 10_000 }).toBe("ready");
  return { cache, redis };
}

describe("cache on Redis Cluster", () => {
  it("shares values, loads once, counts keys and invalidates across two instances", async () => {
    const prefix = `c${Date.now().toString(36)}`;
    const a = await instance(prefix);
    const b = await instance(prefix);
    expect(a.redis).toBeInstanceOf(Cluster);

    let loads = 0;
    const loader = async () => {
      loads++;
      await sleep(200);
      return ["m1", "m2"];
    };
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).cache.getOrSet("models", "list", loader)),
    );
    expect(loads).toBe(1);
    for (const r of results) expect(r).toEqual(["m1", "m2"]);

    for (let i = 0; i < 20; i++) await a.cache.set("users", `u${i}`, { i });
    expect(await b.cache.get("users", "u7")).toEqual({ i: 7 });
    expect(await a.cache.keyCounts()).toEqual({ total: 21, byCategory: { models: 1, users: 20, things: 0 } });

    // Pub/sub crosses the cluster: B's L1 copies go when A invalidates.
    await a.cache.set("users", "u7", { i: 70 });
    await expect.poll(() => b.cache.get("users", "u7"), { timeout: 10_000 }).toEqual({ i: 70 });
    expect(await a.cache.invalidate("users")).toEqual({ categories: ["users"], redis: "ok" });
    await expect.poll(() => b.cache.get("users", "u7"), { timeout: 10_000 }).toBeUndefined();
    expect(await b.cache.get("models", "list")).toEqual(["m1", "m2"]);
    expect((await b.cache.keyCounts())?.total).toBe(1);
  });
});
