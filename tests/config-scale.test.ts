import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../server/config/config.js";

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
    expect(loadConfig({ WEB_CONCURRENCY: "2" }).workers).toBe(2);
    expect(loadConfig({ WEB_CONCURRENCY: "auto" }).workers).toBe(availableParallelism());
    expect(problems({ WEB_CONCURRENCY: "0" })[0]).toMatch(/^WEB_CONCURRENCY: must be from 1/);
    expect(problems({ WEB_CONCURRENCY: "many" })[0]).toMatch(/^WEB_CONCURRENCY: must be a whole number/);
  });
});
