import { afterAll, beforeAll, expect, it } from "vitest";
import { createCache } from "../server/cache/cache.js";
import { connectRedis, createRedisClient, type Redis } from "../server/redis/redis-client.js";
import { uniquePrefix } from "./helpers/app.js";
import { CONTRACT_CONFIG, cacheContractSuite } from "./helpers/cache-contract-suite.js";
import { capturingLogger, silentLogger } from "./helpers/logger.js";
import { type RedisServer, startRedisServer } from "./helpers/redis-server.js";

let server: RedisServer;
const clients: Redis[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

cacheContractSuite("Redis (L1 + L2)", async () => {
  const logger = silentLogger();
  const redis = createRedisClient(
    {
      host: "127.0.0.1",
      port: server.port,
      db: 0,
      source: "test",
      connectTimeoutMs: 2000,
      commandTimeoutMs: 5000,
    },
    logger,
  );
  await connectRedis(redis, logger);
  clients.push(redis);
  return createCache({ redis, prefix: uniquePrefix(), logger, config: CONTRACT_CONFIG });
});

cacheContractSuite("L1 only (no Redis)", async () =>
  createCache({ prefix: uniquePrefix(), logger: silentLogger(), config: CONTRACT_CONFIG }),
);

it("says once, at creation, that a cache without Redis is in-process only", async () => {
  const { logger, lines } = capturingLogger("info");
  const cache = createCache({ prefix: uniquePrefix(), logger, config: CONTRACT_CONFIG });
  await cache.getOrSet("things", "a", async () => 1);
  await cache.get("things", "a");
  expect(lines.filter((l) => l.includes("in-process only"))).toHaveLength(1);
  expect(cache.stats().l2).toEqual({ mode: "none", breaker: "disabled", failures: 0, subscriber: "none" });
  await cache.close();
});
