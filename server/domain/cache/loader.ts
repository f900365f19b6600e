import { CacheLoaderTimeoutError } from "./errors.js";
import { type Guard, type L1Entry, localEntry } from "./l1.js";
import type { CacheL2 } from "./l2.js";
import type { Loader } from "./types.js";

const POLL_MS = 50; // how often a waiter looks for the value another instance is loading

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a loader within `timeoutMs`; on timeout its signal aborts and the call rejects. */
export async function runLoader<T>(loader: Loader<T>, timeoutMs: number): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new CacheLoaderTimeoutError(timeoutMs);
      controller.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    return await Promise.race([loader({ signal: controller.signal }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What to do about a miss: use a value another instance stored, or load (holding the lease or not). */
export type LoadPlan = { found: L1Entry } | { lease?: { gen: number; token: string }; gen?: number };

export interface LeaseCoordinator {
  /** Decides who loads; a stale L2 value newer than `stale.entry` is kept there as a fallback. */
  plan(
    category: string,
    key: string,
    leaseMs: number,
    guard: Guard,
    stale: { entry?: L1Entry },
  ): Promise<LoadPlan>;
  release(category: string, key: string, plan: LoadPlan): Promise<void>;
}

/**
 * Single flight across instances: the first caller takes a short lease in L2 and loads; the others poll
 * L2 for its value until the lease runs out (its holder is then presumed dead) and load themselves.
 * L2 failures never fail the call: the caller just loads without the lease.
 */
export function createLeaseCoordinator(deps: {
  l2?: CacheL2;
  generation: (category: string) => Promise<number>;
  monotonic: () => number;
  isClosed: () => boolean;
  onL2Error: (op: string, err: unknown) => void;
}): LeaseCoordinator {
  const { l2, monotonic } = deps;
  const fresh = async (category: string, gen: number, key: string) => {
    const entry = await l2?.get(category, gen, key);
    return entry ? localEntry(entry, monotonic()) : undefined;
  };

  const release = async (category: string, key: string, plan: LoadPlan) => {
    if (!l2 || !("lease" in plan) || !plan.lease) return;
    await l2
      .releaseLock(category, plan.lease.gen, key, plan.lease.token)
      .catch((err) => deps.onL2Error("unlock", err));
  };

  return {
    release,

    async plan(category, key, leaseMs, guard, stale) {
      if (!l2) return {};
      let gen: number | undefined;
      try {
        gen = await deps.generation(category);
        const entry = await fresh(category, gen, key);
        const now = monotonic();
        if (entry && entry.freshUntil > now) return { found: entry };
        if (entry && (!stale.entry || entry.freshUntil > stale.entry.freshUntil)) stale.entry = entry;
        const deadline = now + leaseMs;
        for (;;) {
          const token = await l2.acquireLock(category, gen, key, leaseMs);
          if (token) {
            // The previous holder may have stored the value and let go between our read and this lock.
            const lease = { gen, token };
            const landed = await fresh(category, gen, key).catch((err) => deps.onL2Error("recheck", err));
            if (!landed || landed.freshUntil <= monotonic()) return { lease, gen };
            await release(category, key, { lease });
            return { found: landed };
          }
          // Past the lease the holder is presumed dead; after an invalidation the awaited value is outdated.
          if (monotonic() >= deadline || deps.isClosed() || guard.invalidated) return { gen };
          await sleep(POLL_MS / 2 + Math.random() * POLL_MS);
          const landed = await fresh(category, gen, key);
          if (landed && landed.freshUntil > monotonic()) return { found: landed };
        }
      } catch (err) {
        deps.onL2Error("coordinate", err);
        return { gen };
      }
    },
  };
}
