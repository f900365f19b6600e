import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CacheConfig } from "../../server/config/config.js";
import type { Cache } from "../../server/domain/cache/cache.js";
import { CacheKeyError } from "../../server/domain/cache/keys.js";
import { sleep } from "./sleep.js";

export const CONTRACT_CONFIG: CacheConfig = {
  categories: { models: { ttlSeconds: 3600 }, users: { ttlSeconds: 300 }, things: { ttlSeconds: 60 } },
  graceSeconds: 300,
  l1MaxEntries: 1000,
  l1MaxBytes: 1024 * 1024,
  l2TimeoutMs: 5000, // generous: a busy test machine must not turn a slow Redis reply into a second load
  loaderTimeoutMs: 2000,
  lockLeaseMs: 5000,
  breakerThreshold: 5,
  breakerCooldownMs: 1000,
};

/**
 * The behaviour every cache backend must share, run against the Redis-backed and the L1-only cache
 * (in the spirit of bentocache's driver test suite). `make` builds a fresh, empty cache.
 */
export function cacheContractSuite(name: string, make: () => Promise<Cache>) {
  describe(`cache contract: ${name}`, () => {
    let cache: Cache;
    beforeEach(async () => {
      cache = await make();
    });
    afterEach(async () => {
      await cache.close();
    });

    it("misses, then returns what was set, as JSON (a copy each time)", async () => {
      expect(await cache.get("things", "a")).toBeUndefined();
      await cache.set("things", "a", { n: 1, when: new Date(0), list: [1, 2] });
      const first = await cache.get<{ n: number; when: string; list: number[] }>("things", "a");
      expect(first).toEqual({ n: 1, when: "1970-01-01T00:00:00.000Z", list: [1, 2] });
      first!.list.push(3);
      expect(await cache.get("things", "a")).toEqual({
        n: 1,
        when: "1970-01-01T00:00:00.000Z",
        list: [1, 2],
      });
      expect(cache.stats().categories.things).toMatchObject({ misses: 1, hits: 2 });
    });

    it("deletes a key and leaves its neighbours", async () => {
      await cache.set("things", "a", 1);
      await cache.set("things", "b", 2);
      await cache.delete("things", "a");
      expect(await cache.get("things", "a")).toBeUndefined();
      expect(await cache.get("things", "b")).toBe(2);
    });

    it("expires a value after its TTL", async () => {
      await cache.set("things", "short", "v", { ttlMs: 150, graceMs: 0 });
      expect(await cache.get("things", "short")).toBe("v");
      await sleep(300);
      expect(await cache.get("things", "short")).toBeUndefined();
    });

    it("keeps keys with separators, globs and unicode apart and inside their category", async () => {
      const odd = ["a:b", "a%3Ab", "*", "../../x", "ü ñ 🎉", "g1:k:x", "x".repeat(512)];
      for (const [i, k] of odd.entries()) await cache.set("things", k, i);
      for (const [i, k] of odd.entries()) expect(await cache.get("things", k)).toBe(i);
      expect(await cache.get("models", "a:b")).toBeUndefined();
      await expect(cache.get("things", "")).rejects.toBeInstanceOf(CacheKeyError);
      await expect(cache.get("things", "x".repeat(513))).rejects.toBeInstanceOf(CacheKeyError);
      await expect(cache.get("nope", "a")).rejects.toBeInstanceOf(CacheKeyError);
      await expect(cache.set("things", "f", () => 1)).rejects.toBeInstanceOf(TypeError);
    });

    it("getOrSet loads once, then serves the stored value", async () => {
      let calls = 0;
      const loader = async () => {
        calls++;
        return { v: calls };
      };
      expect(await cache.getOrSetWithStatus("things", "k", loader)).toEqual({
        value: { v: 1 },
        status: "miss",
      });
      expect(await cache.getOrSetWithStatus("things", "k", loader)).toEqual({
        value: { v: 1 },
        status: "hit",
      });
      expect(calls).toBe(1);
      expect(cache.stats().categories.things).toMatchObject({ hits: 1, misses: 1, loads: 1, hitRate: 0.5 });
    });

    it("runs the loader once for concurrent callers in one process", async () => {
      let calls = 0;
      const loader = async () => {
        calls++;
        await sleep(50);
        return "value";
      };
      const results = await Promise.all(
        Array.from({ length: 50 }, () => cache.getOrSet("things", "same", loader)),
      );
      expect(new Set(results)).toEqual(new Set(["value"]));
      expect(calls).toBe(1);
    });

    it("does not store null or undefined results", async () => {
      let calls = 0;
      const loader = async () => {
        calls++;
        return null;
      };
      expect(await cache.getOrSet("things", "none", loader)).toBeNull();
      expect(await cache.getOrSet("things", "none", loader)).toBeNull();
      expect(calls).toBe(2);
    });

    it("propagates a loader error when nothing is cached", async () => {
      await expect(
        cache.getOrSet("things", "boom", async () => {
          throw new Error("upstream down");
        }),
      ).rejects.toThrow("upstream down");
      expect(cache.stats().categories.things).toMatchObject({ loaderErrors: 1 });
    });

    it("serves a stale value within grace when the loader fails, and stops after grace", async () => {
      const opts = { ttlMs: 100, graceMs: 600 };
      await cache.getOrSet("things", "g", async () => "old", opts);
      await sleep(200);
      const failing = async (): Promise<string> => {
        throw new Error("down");
      };
      expect(await cache.getOrSetWithStatus("things", "g", failing, opts)).toEqual({
        value: "old",
        status: "stale",
      });
      expect(cache.stats().categories.things).toMatchObject({ stale: 1, loaderErrors: 1 });
      await sleep(700);
      await expect(cache.getOrSet("things", "g", failing, opts)).rejects.toThrow("down");
      // A working loader replaces the expired value.
      expect(await cache.getOrSetWithStatus("things", "g", async () => "new", opts)).toEqual({
        value: "new",
        status: "miss",
      });
    });

    it("times a slow loader out, aborting its signal, and falls back to stale", async () => {
      let aborted = false;
      const slow = ({ signal }: { signal: AbortSignal }) =>
        new Promise<string>((resolve) => {
          signal.addEventListener("abort", () => {
            aborted = true;
          });
          setTimeout(() => resolve("late"), 1000).unref();
        });
      await expect(cache.getOrSet("things", "slow", slow, { timeoutMs: 100 })).rejects.toThrow(/100 ms/);
      expect(aborted).toBe(true);
      await cache.getOrSet("things", "slow2", async () => "kept", { ttlMs: 50, graceMs: 5000 });
      await sleep(100);
      expect(await cache.getOrSetWithStatus("things", "slow2", slow, { timeoutMs: 100 })).toEqual({
        value: "kept",
        status: "stale",
      });
    });

    it("invalidates one category and leaves the others", async () => {
      await cache.set("models", "list", ["a"]);
      await cache.set("users", "u1", { id: "u1" });
      const result = await cache.invalidate("models");
      expect(result.categories).toEqual(["models"]);
      expect(await cache.get("models", "list")).toBeUndefined();
      expect(await cache.get("users", "u1")).toEqual({ id: "u1" });
      // New values after an invalidation are stored and served normally.
      await cache.set("models", "list", ["b"]);
      expect(await cache.get("models", "list")).toEqual(["b"]);
    });

    it("invalidates every category with 'all' and rejects unknown ones", async () => {
      await cache.set("models", "list", ["a"]);
      await cache.set("users", "u1", 1);
      const result = await cache.invalidate("all");
      expect(result.categories).toEqual(cache.categories);
      expect(await cache.get("models", "list")).toBeUndefined();
      expect(await cache.get("users", "u1")).toBeUndefined();
      await expect(cache.invalidate("sessions")).rejects.toBeInstanceOf(CacheKeyError);
    });

    it("does not keep a value whose load overlapped an invalidation of its key or category", async () => {
      for (const invalidate of [() => cache.delete("things", "race"), () => cache.invalidate("things")]) {
        const loading = cache.getOrSet("things", "race", async () => {
          await sleep(100);
          return "loaded before the change";
        });
        await sleep(20);
        await invalidate();
        expect(await loading).toBe("loaded before the change");
        expect(await cache.get("things", "race")).toBeUndefined();
      }
    });

    it("reports a stats snapshot with L1 size and per-category counters", async () => {
      await cache.set("things", "s", "x");
      await cache.get("things", "s");
      const stats = cache.stats();
      expect(stats.l1.entries).toBeGreaterThanOrEqual(1);
      expect(stats.l1.bytes).toBeGreaterThan(0);
      expect(Object.keys(stats.categories).sort()).toEqual(["models", "things", "users"]);
      expect(stats.categories.things).toEqual({
        hits: 1,
        hitsL1: 1,
        hitsL2: 0,
        misses: 0,
        stale: 0,
        loads: 0,
        loaderErrors: 0,
        hitRate: 1,
      });
    });
  });
}
