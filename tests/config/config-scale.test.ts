import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/config/config.js";
import { createRateLimitStore } from "../../server/domain/ratelimit/policies.js";
import { createRedisClient } from "../../server/infra/redis/redis-client.js";
import { silentLogger } from "../helpers/logger.js";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("Redis Sentinel configuration", () => {
  it("REDIS_SENTINELS and REDIS_SENTINEL_NAME make a Sentinel Redis with the data nodes' credentials", () => {
    const config = loadConfig({
      REDIS_SENTINELS: "10.0.0.1:26379, sentinel-b:26380",
      REDIS_SENTINEL_NAME: "mymaster",
      REDIS_PASSWORD: "data-secret",
      REDIS_SENTINEL_PASSWORD: "sentinel-secret",
      REDIS_DB: "2",
      REDIS_TLS: "true",
    });
    expect(config.redis?.sentinel).toEqual({
      name: "mymaster",
      nodes: [
        { host: "10.0.0.1", port: 26379 },
        { host: "sentinel-b", port: 26380 },
      ],
      username: undefined,
      password: "sentinel-secret",
    });
    expect(config.redis?.password).toBe("data-secret");
    expect(config.redis?.db).toBe(2);
    expect(config.redis?.tls?.rejectUnauthorized).toBe(true);
    expect(config.redis?.source).not.toContain("secret");
    expect(config.health.required).toContain("redis");
  });

  it("names every inconsistency at once", () => {
    expect(problems({ REDIS_SENTINELS: "a:1", REDIS_URL: "redis://x:6379", REDIS_CLUSTER: "true" })).toEqual([
      expect.stringMatching(/^REDIS_SENTINEL_NAME: required/),
      expect.stringMatching(/^REDIS_SENTINELS: set either the sentinels or REDIS_URL/),
      expect.stringMatching(/^REDIS_SENTINELS: cannot be combined with REDIS_CLUSTER/),
    ]);
    expect(problems({ REDIS_SENTINEL_NAME: "mymaster" })).toEqual([
      expect.stringMatching(/^REDIS_SENTINEL_NAME: needs REDIS_SENTINELS/),
    ]);
    expect(problems({ REDIS_SENTINELS: "no-port", REDIS_SENTINEL_NAME: "m" })[0]).toMatch(
      /^REDIS_SENTINELS: must be a comma-separated list of host:port/,
    );
  });
});

describe("WEB_CONCURRENCY", () => {
  it("defaults to 1, takes a number or auto (the available cores), refuses anything else", () => {
    expect(loadConfig({}).workers).toBe(1);
    const shared = {
      REDIS_URL: "redis://127.0.0.1:6379",
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test",
      SESSION_SECRET: "x".repeat(32),
    };
    expect(loadConfig({ ...shared, WEB_CONCURRENCY: "2" }).workers).toBe(2);
    expect(loadConfig({ ...shared, WEB_CONCURRENCY: "auto" }).workers).toBe(availableParallelism());
    expect(problems({ WEB_CONCURRENCY: "0" })[0]).toMatch(/^WEB_CONCURRENCY: must be from 1/);
    expect(problems({ WEB_CONCURRENCY: "many" })[0]).toMatch(/^WEB_CONCURRENCY: must be a whole number/);
  });

  it("more than one worker needs what every worker can share: a database server, Redis, a fixed secret", () => {
    expect(problems({ WEB_CONCURRENCY: "2" })).toEqual([
      expect.stringMatching(/^WEB_CONCURRENCY: more than 1 worker needs DATABASE_URL/),
      expect.stringMatching(/^WEB_CONCURRENCY: more than 1 worker needs SESSION_SECRET/),
      expect.stringMatching(/^WEB_CONCURRENCY: more than 1 worker needs Redis/),
    ]);
  });
});

describe("the in-process fallback limiter with several workers", () => {
  it("divides each limit by workers × instances while Redis is down", async () => {
    const config = loadConfig({
      REDIS_URL: "redis://127.0.0.1:1",
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test",
      SESSION_SECRET: "x".repeat(32),
      WEB_CONCURRENCY: "2",
      RATE_LIMIT_INSTANCES: "3",
    });
    const logger = silentLogger();
    const redis = createRedisClient(config.redis as NonNullable<typeof config.redis>, logger); // never connected
    try {
      const store = createRateLimitStore({ config, redis, logger });
      const decision = await store.consume("k", 60, 60_000_000, 1);
      expect(decision.limit).toBe(10);
    } finally {
      redis.disconnect();
    }
  });
});
