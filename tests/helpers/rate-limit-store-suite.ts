import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { RateLimitStore } from "../../server/domain/ratelimit/store.js";
import { sleep } from "./sleep.js";

const S = 1_000_000; // µs per second

/**
 * The behaviour every rate-limit store must share; run once per backend. `advance` moves the store's
 * clock: a manual clock for stores that take one, real time (the default) for Redis, which reads its own.
 */
export function rateLimitStoreContract(
  name: string,
  getStore: () => RateLimitStore,
  keyPrefix: () => string,
  advance: (ms: number) => Promise<void> = sleep,
) {
  const key = () => `${keyPrefix()}:rl:{contract:${randomBytes(4).toString("hex")}}`;

  describe(`rate-limit store contract: ${name}`, () => {
    it("lets exactly `limit` through at once, then rejects with the time to the next unit", async () => {
      const store = getStore();
      const k = key();
      const remaining: number[] = [];
      for (let i = 0; i < 5; i++) {
        const d = await store.consume(k, 5, 60 * S, 1);
        expect(d.allowed).toBe(true);
        expect(d.retryAfterUs).toBe(0);
        remaining.push(d.remaining);
      }
      expect(remaining).toEqual([4, 3, 2, 1, 0]);
      const rejected = await store.consume(k, 5, 60 * S, 1);
      expect(rejected.allowed).toBe(false);
      expect(rejected.remaining).toBe(0);
      // One unit comes back every 60 s / 5 = 12 s; the whole quota after 60 s.
      expect(rejected.retryAfterUs).toBeGreaterThan(11 * S);
      expect(rejected.retryAfterUs).toBeLessThanOrEqual(12 * S);
      expect(rejected.resetUs).toBeGreaterThan(59 * S);
      expect(rejected.resetUs).toBeLessThanOrEqual(60 * S);
    });

    it("counts costs, and a rejected request uses nothing", async () => {
      const store = getStore();
      const k = key();
      expect(await store.consume(k, 5, 60 * S, 3)).toMatchObject({ allowed: true, remaining: 2 });
      expect(await store.consume(k, 5, 60 * S, 3)).toMatchObject({ allowed: false, remaining: 2 });
      expect(await store.consume(k, 5, 60 * S, 2)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it("keeps subjects apart and forgets one on reset", async () => {
      const store = getStore();
      const a = key();
      const b = key();
      await store.consume(a, 1, 60 * S, 1);
      expect((await store.consume(a, 1, 60 * S, 1)).allowed).toBe(false);
      expect((await store.consume(b, 1, 60 * S, 1)).allowed).toBe(true);
      await store.reset(a);
      expect(await store.consume(a, 1, 60 * S, 1)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it("gives capacity back gradually, one unit per window/limit, not all at once", async () => {
      const store = getStore();
      const k = key();
      for (let i = 0; i < 4; i++) await store.consume(k, 4, 2 * S, 1); // one unit per 500 ms
      expect((await store.consume(k, 4, 2 * S, 1)).allowed).toBe(false);
      await advance(600);
      expect((await store.consume(k, 4, 2 * S, 1)).allowed).toBe(true);
      expect((await store.consume(k, 4, 2 * S, 1)).allowed).toBe(false);
    });

    it("refund gives back what an allowed check took, and never more than a full quota", async () => {
      const store = getStore();
      const k = key();
      for (let i = 0; i < 3; i++) await store.consume(k, 3, 3600 * S, 1);
      expect((await store.consume(k, 3, 3600 * S, 1)).allowed).toBe(false);
      await store.refund(k, 3, 3600 * S, 1);
      expect(await store.consume(k, 3, 3600 * S, 1)).toMatchObject({ allowed: true, remaining: 0 });
      // Refunding more than was taken restores the full quota and no more.
      for (let i = 0; i < 5; i++) await store.refund(k, 3, 3600 * S, 1);
      expect(await store.consume(k, 3, 3600 * S, 1)).toMatchObject({ allowed: true, remaining: 2 });
      const fresh = key();
      await store.refund(fresh, 3, 3600 * S, 1);
      expect(await store.consume(fresh, 3, 3600 * S, 1)).toMatchObject({ allowed: true, remaining: 2 });
    });

    it("refunds interleaved with concurrent checks keep the count exact", async () => {
      const store = getStore();
      const k = key();
      // 100 checks at once against 20; 30 refunds race with them: at most 20 + 30 can be allowed, and
      // afterwards exactly the unrefunded allowed units are counted.
      const results = await Promise.all([
        ...Array.from({ length: 100 }, () => store.consume(k, 20, 3600 * S, 1)),
        ...Array.from({ length: 30 }, () => store.refund(k, 20, 3600 * S, 1).then(() => undefined)),
      ]);
      const allowed = results.filter((d) => d?.allowed).length;
      expect(allowed).toBeGreaterThanOrEqual(20);
      expect(allowed).toBeLessThanOrEqual(50);
      await Promise.all(Array.from({ length: 50 }, () => store.refund(k, 20, 3600 * S, 1)));
      const after = await Promise.all(Array.from({ length: 25 }, () => store.consume(k, 20, 3600 * S, 1)));
      expect(after.filter((d) => d.allowed)).toHaveLength(20);
    });

    it("is exact under concurrency: 200 at once against a limit of 50 lets 50 through", async () => {
      const store = getStore();
      const k = key();
      const decisions = await Promise.all(
        Array.from({ length: 200 }, () => store.consume(k, 50, 3600 * S, 1)),
      );
      expect(decisions.filter((d) => d.allowed)).toHaveLength(50);
    });
  });
}
