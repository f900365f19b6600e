import type { Logger } from "../../infra/logging/logger.js";
import type { L1, L1Entry } from "./l1.js";
import { type LeaseCoordinator, runLoader } from "./loader.js";
import type { CacheCallOptions, CacheStatus, CategoryStats, Loader } from "./types.js";

export interface Resolved {
  json: string | undefined;
  status: CacheStatus;
  tier?: "l1" | "l2";
}

const LEASE_MARGIN_MS = 1000; // lease beyond a call's own loader timeout

/**
 * The miss path of getOrSet: one resolution per key in this process, the L2 lease across processes,
 * the loader within its timeout, and the stale value (L1 or L2, within grace) when the loader fails.
 */
export function createMissResolver(deps: {
  l1: L1;
  coordinator: LeaseCoordinator;
  counter: (category: string) => Pick<CategoryStats, "loads" | "loaderErrors">;
  loaderTimeoutMs: number;
  lockLeaseMs: number;
  lifetimes: (category: string, opts?: CacheCallOptions) => { ttlMs: number; graceMs: number };
  newEntry: (json: string, ttlMs: number, graceMs: number) => L1Entry;
  /** Stores a loaded value in L2 (never throws). */
  store: (
    category: string,
    key: string,
    json: string,
    ttlMs: number,
    graceMs: number,
    gen: number,
  ) => Promise<unknown>;
  monotonic: () => number;
  log: Logger;
}) {
  const { l1, coordinator, monotonic, log } = deps;
  const inflight = new Map<string, Promise<Resolved>>();

  async function resolve<T>(
    category: string,
    key: string,
    k: string,
    loader: Loader<T>,
    opts: CacheCallOptions | undefined,
  ): Promise<Resolved> {
    const guard = l1.watch(k);
    const stale: { entry?: L1Entry } = { entry: l1.get(k) };
    const timeoutMs = opts?.timeoutMs ?? deps.loaderTimeoutMs;
    const leaseMs = Math.max(deps.lockLeaseMs, timeoutMs + LEASE_MARGIN_MS);

    const plan = await coordinator.plan(category, key, leaseMs, guard, stale);
    if ("found" in plan) {
      if (!guard.invalidated) l1.set(k, plan.found);
      l1.unwatch(k, guard);
      return { json: plan.found.json, status: "hit", tier: "l2" };
    }
    const counter = deps.counter(category);
    try {
      counter.loads++;
      const value = await runLoader(loader, timeoutMs);
      if (value === undefined) return { json: undefined, status: "miss" };
      const json = JSON.stringify(value);
      if (value === null || json === undefined) return { json, status: "miss" };
      const { ttlMs, graceMs } = deps.lifetimes(category, opts);
      // Invalidated while loading: the value may predate the change, so it is returned but not kept.
      if (!guard.invalidated) {
        l1.set(k, deps.newEntry(json, ttlMs, graceMs));
        if (plan.gen !== undefined) await deps.store(category, key, json, ttlMs, graceMs, plan.gen);
      }
      return { json, status: "miss" };
    } catch (err) {
      counter.loaderErrors++;
      const fallback = stale.entry;
      if (fallback && fallback.graceUntil > monotonic()) {
        log.warn(
          { category, err: { name: (err as Error).name, message: (err as Error).message } },
          "cache: loader failed, serving a stale value",
        );
        return { json: fallback.json, status: "stale" };
      }
      throw err;
    } finally {
      l1.unwatch(k, guard);
      await coordinator.release(category, key, plan);
    }
  }

  return {
    /** Concurrent callers for one L1 key `k` share one resolution. */
    resolve<T>(category: string, key: string, k: string, loader: Loader<T>, opts?: CacheCallOptions) {
      let pending = inflight.get(k);
      if (!pending) {
        pending = resolve(category, key, k, loader, opts).finally(() => inflight.delete(k));
        inflight.set(k, pending);
      }
      return pending;
    },
  };
}
