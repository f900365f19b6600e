import { expect, it } from "vitest";
import { createCache } from "../../../server/domain/cache/cache.js";
import { uniquePrefix } from "../../helpers/app.js";
import { CONTRACT_CONFIG, cacheContractSuite } from "../../helpers/cache-contract-suite.js";
import { testRedisClient } from "../../helpers/fixtures.js";
import { capturingLogger, silentLogger } from "../../helpers/logger.js";

cacheContractSuite("Redis (L1 + L2)", async () => {
  const redis = await testRedisClient();
  return createCache({ redis, prefix: uniquePrefix(), logger: silentLogger(), config: CONTRACT_CONFIG });
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
