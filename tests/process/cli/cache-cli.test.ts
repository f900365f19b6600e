import { Redis as IORedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../server/config/config.js";
import { type Cache, createCache } from "../../../server/domain/cache/cache.js";
import { connectRedis, createRedisClient, type Redis } from "../../../server/infra/redis/redis-client.js";
import { testEnv } from "../../helpers/app.js";
import { privateRedisServer } from "../../helpers/fixtures.js";
import { silentLogger } from "../../helpers/logger.js";
import { runProcess } from "../../helpers/processes.js";
import type { RedisServer } from "../../helpers/redis-server.js";
import { commandCalls, commandDiff } from "../../helpers/redis-stats.js";

let server: RedisServer;
let admin: IORedis;
let redis: Redis;
let cache: Cache;
let env: Record<string, string | undefined>;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await runProcess(
    "server/process/cli/cache.ts",
    { PATH: process.env.PATH, ...env },
    {
      args,
      defaults: false,
      timeoutMs: 20_000,
    },
  );
  return { code: code ?? 1, stdout, stderr };
}

beforeAll(async () => {
  // Its own server: the test counts the commands Redis runs.
  server = await privateRedisServer();
  admin = new IORedis({ port: server.port, host: "127.0.0.1", lazyConnect: true });
  await admin.connect();
  env = testEnv({ REDIS_URL: server.url, LOG_LEVEL: "warn", REDIS_COMMAND_TIMEOUT_MS: "5000" });
  const config = loadConfig(env);
  const logger = silentLogger();
  redis = createRedisClient(config.redis!, logger);
  await connectRedis(redis, logger);
  cache = createCache({ redis, prefix: config.keyPrefix, logger, config: config.cache });
});

afterAll(async () => {
  await cache?.close();
  redis?.disconnect();
  admin?.disconnect();
});

describe("npm run cache", () => {
  it("shows stats, inspects a key, clears a category for running instances, and never uses KEYS", async () => {
    await cache.set("models", "list", ["gpt-4o"]);
    await cache.set("users", "u:1", { id: "u:1" });
    const before = await commandCalls(admin);

    const stats = await cli("stats");
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout)).toEqual({
      pattern: `${env.KEY_PREFIX}:cache:*`,
      total_keys: 2,
      keys_by_category: { models: 1, tokens: 0, users: 1 },
    });

    const inspect = await cli("inspect", "users", "u:1");
    expect(inspect.code).toBe(0);
    const shown = JSON.parse(inspect.stdout);
    expect(shown).toMatchObject({
      value: { id: "u:1" },
      fresh: true,
      redisKey: `${env.KEY_PREFIX}:cache:users:g0:k:u%3A1`,
    });
    expect(shown.ttlMs).toBeGreaterThan(0);
    expect(shown.sizeBytes).toBeGreaterThan(0);
    expect((await cli("inspect", "users", "nobody")).code).toBe(1);

    const clear = await cli("clear", "models");
    expect(clear.code).toBe(0);
    expect(JSON.parse(clear.stdout)).toEqual({ invalidated: ["models"], redis: "ok" });
    // The running instance's L1 copy goes too, through pub/sub.
    await expect.poll(() => cache.get("models", "list"), { timeout: 10_000 }).toBeUndefined();
    expect(await cache.get("users", "u:1")).toEqual({ id: "u:1" });

    const used = commandDiff(before, await commandCalls(admin)).commands;
    expect(used.keys).toBeUndefined();
    expect(used.scan).toBeUndefined();
  });

  it("rejects unknown commands and categories with usage and exit code 2", async () => {
    const unknown = await cli("clear", "sessions");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown cache category");
    const bad = await cli("drop");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("usage");
  });
});

describe("cache configuration", () => {
  it("names each malformed cache variable and refuses a lease shorter than the loader timeout", () => {
    const problems = (over: Record<string, string>) => {
      try {
        loadConfig(testEnv(over));
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problems({ CACHE_MODELS_TTL_SECONDS: "1h", CACHE_L2_TIMEOUT_MS: "-5" }).join("\n")).toMatch(
      /CACHE_MODELS_TTL_SECONDS[\s\S]*CACHE_L2_TIMEOUT_MS/,
    );
    expect(problems({ CACHE_LOCK_LEASE_MS: "1000", CACHE_LOADER_TIMEOUT_MS: "2000" })[0]).toMatch(
      /^CACHE_LOCK_LEASE_MS/,
    );
    expect(() => loadConfig(testEnv({ CACHE_USERS_TTL_SECONDS: "0" }))).toThrow(ConfigError);
    expect(loadConfig(testEnv()).cache).toMatchObject({
      categories: { models: { ttlSeconds: 3600 }, users: { ttlSeconds: 300 } },
      graceSeconds: 300,
    });
  });
});
