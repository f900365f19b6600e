import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CacheL2 } from "../../server/domain/cache/l2.js";
import { sleep } from "./sleep.js";

/**
 * The behaviour every L2 must share (in the spirit of bentocache's driver test suite). `make` builds a
 * fresh, empty L2 with the categories `things` and `other`; `close` releases what it holds.
 */
export function l2ContractSuite(name: string, make: () => Promise<{ l2: CacheL2; close(): Promise<void> }>) {
  describe(`L2 contract: ${name}`, () => {
    let l2: CacheL2;
    let close: () => Promise<void>;
    beforeEach(async () => {
      ({ l2, close } = await make());
    });
    afterEach(async () => {
      await close();
    });

    it("misses, then returns what was set with its remaining fresh and servable time", async () => {
      expect(await l2.get("things", 0, "a")).toBeUndefined();
      await l2.set("things", 0, "a", '{"n":1}', 60_000, 30_000);
      const entry = await l2.get("things", 0, "a");
      expect(entry?.json).toBe('{"n":1}');
      expect(entry?.freshMs).toBeGreaterThan(55_000);
      expect(entry?.freshMs).toBeLessThanOrEqual(60_000);
      expect(entry!.graceMs - entry!.freshMs).toBeGreaterThanOrEqual(29_000);
      expect(entry!.graceMs - entry!.freshMs).toBeLessThanOrEqual(30_001);
    });

    it("keeps keys apart by category, generation and key, and deletes one of them", async () => {
      await l2.set("things", 0, "a:b", "1", 60_000, 0);
      await l2.set("things", 0, "a", "2", 60_000, 0);
      await l2.set("other", 0, "a:b", "3", 60_000, 0);
      await l2.set("things", 1, "a:b", "4", 60_000, 0);
      expect((await l2.get("things", 0, "a:b"))?.json).toBe("1");
      expect((await l2.get("other", 0, "a:b"))?.json).toBe("3");
      expect((await l2.get("things", 1, "a:b"))?.json).toBe("4");
      await l2.delete("things", 0, "a:b");
      expect(await l2.get("things", 0, "a:b")).toBeUndefined();
      expect((await l2.get("things", 0, "a"))?.json).toBe("2");
      expect((await l2.get("things", 1, "a:b"))?.json).toBe("4");
    });

    it("turns a value stale after its fresh time and drops it after its grace", async () => {
      await l2.set("things", 0, "s", '"v"', 150, 400);
      await sleep(250);
      const stale = await l2.get("things", 0, "s");
      expect(stale?.json).toBe('"v"');
      expect(stale?.freshMs).toBeLessThanOrEqual(0);
      expect(stale?.graceMs).toBeGreaterThan(0);
      await sleep(450);
      expect(await l2.get("things", 0, "s")).toBeUndefined();
    });

    it("stores nothing when no time is left", async () => {
      await l2.set("things", 0, "gone", "1", 0, 0);
      expect(await l2.get("things", 0, "gone")).toBeUndefined();
      expect(await l2.count("things", 0)).toBe(0);
    });

    it("starts each category at generation 0 and moves one category on at a time", async () => {
      expect(await l2.generation("things")).toBe(0);
      expect(await l2.bumpGeneration("things")).toBe(1);
      expect(await l2.bumpGeneration("things")).toBe(2);
      expect(await l2.generation("things")).toBe(2);
      expect(await l2.generation("other")).toBe(0);
    });

    it("gives the loading lease to one holder until it is released or runs out", async () => {
      const token = await l2.acquireLock("things", 0, "k", 300);
      expect(token).toEqual(expect.any(String));
      expect(await l2.acquireLock("things", 0, "k", 300)).toBeUndefined();
      expect(await l2.acquireLock("things", 0, "other", 300)).toEqual(expect.any(String));
      await l2.releaseLock("things", 0, "k", "not-the-holder");
      expect(await l2.acquireLock("things", 0, "k", 300)).toBeUndefined();
      await l2.releaseLock("things", 0, "k", token!);
      const next = await l2.acquireLock("things", 0, "k", 200);
      expect(next).toEqual(expect.any(String));
      expect(next).not.toBe(token);
      await sleep(300);
      expect(await l2.acquireLock("things", 0, "k", 200)).toEqual(expect.any(String));
    });

    it("counts live values per category and generation, without deleted or expired ones", async () => {
      await l2.set("things", 0, "a", "1", 60_000, 0);
      await l2.set("things", 0, "b", "2", 60_000, 0);
      await l2.set("things", 0, "b", "2", 60_000, 0);
      await l2.set("things", 0, "short", "3", 100, 0);
      await l2.set("things", 1, "c", "4", 60_000, 0);
      await l2.set("other", 0, "d", "5", 60_000, 0);
      expect(await l2.count("things", 0)).toBe(3);
      await l2.delete("things", 0, "a");
      await sleep(200);
      expect(await l2.count("things", 0)).toBe(1);
      expect(await l2.count("things", 1)).toBe(1);
      expect(await l2.count("other", 0)).toBe(1);
      expect(await l2.count("other", 5)).toBe(0);
    });

    it("lets an operator inspect one value: where it lives, its size and its remaining times", async () => {
      expect(await l2.inspect("things", 0, "nothing")).toBeUndefined();
      await l2.set("things", 0, "i", '{"x":"ü"}', 10_000, 5_000);
      const found = await l2.inspect("things", 0, "i");
      expect(found).toMatchObject({ json: '{"x":"ü"}' });
      expect(found!.location).toContain("things");
      expect(found!.sizeBytes).toBeGreaterThanOrEqual(Buffer.byteLength('{"x":"ü"}'));
      expect(found!.freshMs).toBeGreaterThan(9_000);
      expect(found!.graceMs).toBeGreaterThan(14_000);
      expect(found!.graceMs).toBeLessThanOrEqual(15_000);
    });
  });
}
