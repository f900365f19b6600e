import type { CacheStatus, CategoryStats } from "./types.js";

type Counter = Omit<CategoryStats, "hits" | "hitRate">;

export interface CacheCounters {
  /** The category's counters; undefined for an unknown category. */
  of(category: string): Counter | undefined;
  record(category: string, status: CacheStatus, tier?: "l1" | "l2"): void;
  snapshot(): Record<string, CategoryStats>;
}

/** This process's per-category counters (they only grow). */
export function createCounters(categories: readonly string[]): CacheCounters {
  const counters = new Map<string, Counter>();
  for (const c of categories) {
    counters.set(c, { hitsL1: 0, hitsL2: 0, misses: 0, stale: 0, loads: 0, loaderErrors: 0 });
  }
  return {
    of: (category) => counters.get(category),
    record(category, status, tier) {
      const c = counters.get(category);
      if (!c) return;
      if (status === "stale") c.stale++;
      else if (status === "miss") c.misses++;
      else if (tier === "l1") c.hitsL1++;
      else c.hitsL2++;
    },
    snapshot() {
      const out: Record<string, CategoryStats> = {};
      for (const [c, v] of counters) {
        const hits = v.hitsL1 + v.hitsL2;
        const calls = hits + v.misses + v.stale;
        out[c] = { hits, ...v, hitRate: calls === 0 ? 0 : Math.round((hits / calls) * 10_000) / 10_000 };
      }
      return out;
    },
  };
}
