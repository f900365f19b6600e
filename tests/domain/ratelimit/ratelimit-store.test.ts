import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../server/config/config.js";
import { MemoryRateLimitStore } from "../../../server/domain/ratelimit/memory-store.js";
import { RedisRateLimitStore } from "../../../server/domain/ratelimit/redis-store.js";
import { connectRedis, createRedisClient, type Redis } from "../../../server/infra/redis/redis-client.js";
import { testEnv, uniquePrefix } from "../../helpers/app.js";
import { testRedisClient } from "../../helpers/fixtures.js";
import { silentLogger } from "../../helpers/logger.js";
import { rateLimitStoreContract } from "../../helpers/rate-limit-store-suite.js";
import { type RedisCluster, startRedisCluster } from "../../helpers/redis-cluster.js";

const S = 1_000_000;
let redis: Redis;
let cluster: RedisCluster;
let clusterClient: Redis;
const prefix = uniquePrefix();

beforeAll(async () => {
  redis = await testRedisClient();
  cluster = await startRedisCluster();
  const clusterConfig = loadConfig(testEnv({ REDIS_URL: cluster.url, REDIS_CLUSTER: "true" }));
  clusterClient = createRedisClient(clusterConfig.redis!, silentLogger(), "test");
  await connectRedis(clusterClient, silentLogger());
});

afterAll(async () => {
  clusterClient?.disconnect();
  await cluster?.stop();
});

/** The memory store's clock (µs): moved by the contract suite, so its refill test does not race real time. */
let memoryNowUs = Date.now() * 1000;
rateLimitStoreContract(
  "memory",
  () => new MemoryRateLimitStore({ maxKeys: 10_000, now: () => memoryNowUs }),
  () => prefix,
  async (ms) => {
    memoryNowUs += ms * 1000;
  },
);
rateLimitStoreContract(
  "redis cluster (3 masters)",
  () => new RedisRateLimitStore(clusterClient),
  () => prefix,
);
rateLimitStoreContract(
  "redis",
  () => new RedisRateLimitStore(redis),
  () => prefix,
);

describe("Redis store", () => {
  it("keeps one small key per subject that expires when the quota is full again", async () => {
    const store = new RedisRateLimitStore(redis);
    const key = `${prefix}:rl:{ttl:1.2.3.4}`;
    await store.consume(key, 10, 60 * S, 1);
    await store.consume(key, 10, 60 * S, 1);
    expect(await redis.type(key)).toBe("string");
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(11_000);
    expect(ttl).toBeLessThanOrEqual(12_000); // two units of 6 s each
  });

  it("runs again after the server's script cache is flushed (NOSCRIPT → EVAL)", async () => {
    const store = new RedisRateLimitStore(redis);
    const key = `${prefix}:rl:{flush:1.2.3.4}`;
    expect(await store.consume(key, 3, 60 * S, 1)).toMatchObject({ allowed: true, remaining: 2 });
    await redis.script("FLUSH");
    expect(await store.consume(key, 3, 60 * S, 1)).toMatchObject({ allowed: true, remaining: 1 });
  });

  it("registers its scripts once per client", () => {
    new RedisRateLimitStore(redis);
    new RedisRateLimitStore(redis);
    expect(Object.keys((redis as unknown as { scriptsSet: object }).scriptsSet)).toEqual([
      "rateLimitGcra",
      "rateLimitGcraRefund",
    ]);
  });
});
