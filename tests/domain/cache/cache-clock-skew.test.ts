import { afterEach, describe, expect, it } from "vitest";
import { type Cache, createCache } from "../../../server/domain/cache/cache.js";
import type { Redis } from "../../../server/infra/redis/redis-client.js";
import { uniquePrefix } from "../../helpers/app.js";
import { CONTRACT_CONFIG } from "../../helpers/cache-contract-suite.js";
import { testRedisClient } from "../../helpers/fixtures.js";
import { silentLogger } from "../../helpers/logger.js";
import { sleep } from "../../helpers/sleep.js";

const SKEW_MS = 15 * 60_000;

const open: Array<{ cache: Cache; redis: Redis }> = [];

afterEach(async () => {
  for (const { cache, redis } of open.splice(0)) {
    await cache.close();
    redis.disconnect();
  }
});

/** One app instance on its own connection; `skewMs` sets both of its clocks that far off. */
async function instance(prefix: string, skewMs = 0) {
  const logger = silentLogger();
  const redis = await testRedisClient();
  const cache = createCache({
    redis,
    prefix,
    logger,
    config: CONTRACT_CONFIG,
    subscribe: false,
    now: () => Date.now() + skewMs,
    monotonic: () => performance.now() + skewMs,
  });
  open.push({ cache, redis });
  return cache;
}

describe.each([
  ["15 minutes fast", SKEW_MS],
  ["15 minutes slow", -SKEW_MS],
])("a writer whose clock is %s, a reader on time, one Redis", (_name, skew) => {
  it("serves the writer's value while fresh and never past its TTL", async () => {
    const prefix = uniquePrefix();
    const writer = await instance(prefix, skew);
    const reader = await instance(prefix);
    await writer.set("things", "short", "v", { ttlMs: 400, graceMs: 0 });
    await writer.set("things", "long", "v", { ttlMs: 60_000, graceMs: 0 });
    expect(await reader.get("things", "short")).toBe("v");
    let loads = 0;
    expect(await reader.getOrSetWithStatus("things", "long", async () => `reload ${++loads}`)).toEqual({
      value: "v",
      status: "hit",
    });
    expect(loads).toBe(0);
    await sleep(600);
    expect(await reader.get("things", "short")).toBeUndefined();
    expect(await writer.get("things", "short")).toBeUndefined();
    expect(await reader.getOrSetWithStatus("things", "short", async () => "new")).toEqual({
      value: "new",
      status: "miss",
    });
    expect(await reader.keyCounts()).toEqual({ total: 2, byCategory: { models: 0, users: 0, things: 2 } });
  });

  it("serves the writer's expired value as stale within grace, and not after it", async () => {
    const prefix = uniquePrefix();
    const writer = await instance(prefix, skew);
    const reader = await instance(prefix);
    const opts = { ttlMs: 200, graceMs: 800 };
    await writer.getOrSet("things", "g", async () => "old", opts);
    await sleep(350);
    const failing = async (): Promise<string> => {
      throw new Error("upstream down");
    };
    expect(await reader.get("things", "g")).toBeUndefined();
    expect(await reader.getOrSetWithStatus("things", "g", failing, opts)).toEqual({
      value: "old",
      status: "stale",
    });
    await sleep(900);
    await expect(reader.getOrSet("things", "g", failing, opts)).rejects.toThrow("upstream down");
  });

  it("lets the skewed instance read values written on time, and counts them alike", async () => {
    const prefix = uniquePrefix();
    const writer = await instance(prefix);
    const skewed = await instance(prefix, skew);
    await writer.set("users", "u", { id: "u" }, { ttlMs: 400, graceMs: 0 });
    await writer.set("users", "v", { id: "v" }, { ttlMs: 60_000, graceMs: 0 });
    expect(await skewed.get("users", "u")).toEqual({ id: "u" });
    expect(await skewed.keyCounts()).toEqual({ total: 2, byCategory: { models: 0, users: 2, things: 0 } });
    const inspected = await skewed.inspect("users", "v");
    expect(inspected?.fresh).toBe(true);
    // Shown in the skewed instance's own time, a minute ahead of it.
    const ahead = Date.parse(inspected!.expiresAt) - (Date.now() + skew);
    expect(ahead).toBeGreaterThan(55_000);
    expect(ahead).toBeLessThanOrEqual(60_000);
    await sleep(600);
    expect(await skewed.get("users", "u")).toBeUndefined();
    expect(await skewed.keyCounts()).toEqual({ total: 1, byCategory: { models: 0, users: 1, things: 0 } });
  });
});
