import { LRUCache } from "lru-cache";

const ENTRY_OVERHEAD = 64; // bytes counted per entry on top of its key and JSON

/** A value held in this process; deadlines are on the local monotonic clock, never a wall clock. */
export interface L1Entry {
  /** The value as JSON text; parsed on every read so callers never share (and mutate) one object. */
  json: string;
  /** Fresh until, monotonic ms. */
  freshUntil: number;
  /** Servable as stale until, monotonic ms. */
  graceUntil: number;
}

/** Marks a read or load in flight; an invalidation landing meanwhile sets `invalidated`. */
export interface Guard {
  invalidated: boolean;
}

export interface L1 {
  get(key: string): L1Entry | undefined;
  set(key: string, entry: L1Entry): void;
  /** Starts guarding a read or load of `key`; call `unwatch` when it is over. */
  watch(key: string): Guard;
  unwatch(key: string, guard: Guard): void;
  /** Drops a key and marks its reads and loads in flight, so they do not put an older value back. */
  invalidateKey(key: string): void;
  /** The same for every key starting with `prefix`. */
  invalidatePrefix(prefix: string): void;
  invalidateAll(): void;
  size(): { entries: number; bytes: number };
}

/** The bounded in-process LRU (entries and bytes), with guards against racing invalidations. */
export function createL1(options: { maxEntries: number; maxBytes: number; monotonic: () => number }): L1 {
  const { monotonic } = options;
  const lru = new LRUCache<string, L1Entry>({
    max: options.maxEntries,
    maxSize: options.maxBytes,
    sizeCalculation: (entry, key) => entry.json.length * 2 + key.length * 2 + ENTRY_OVERHEAD,
  });
  const watchers = new Map<string, Set<Guard>>();

  const mark = (key: string) => {
    for (const guard of watchers.get(key) ?? []) guard.invalidated = true;
  };

  return {
    get(key) {
      const entry = lru.get(key);
      if (entry && entry.graceUntil <= monotonic()) {
        lru.delete(key);
        return undefined;
      }
      return entry;
    },
    set(key, entry) {
      if (entry.graceUntil > monotonic()) lru.set(key, entry);
    },
    watch(key) {
      const guard = { invalidated: false };
      const set = watchers.get(key) ?? new Set<Guard>();
      set.add(guard);
      watchers.set(key, set);
      return guard;
    },
    unwatch(key, guard) {
      const set = watchers.get(key);
      set?.delete(guard);
      if (set?.size === 0) watchers.delete(key);
    },
    invalidateKey(key) {
      lru.delete(key);
      mark(key);
    },
    invalidatePrefix(prefix) {
      for (const key of [...lru.keys()]) if (key.startsWith(prefix)) lru.delete(key);
      for (const key of watchers.keys()) if (key.startsWith(prefix)) mark(key);
    },
    invalidateAll() {
      for (const key of watchers.keys()) mark(key);
      lru.clear();
    },
    size: () => ({ entries: lru.size, bytes: lru.calculatedSize }),
  };
}

/** An L2 entry's remaining durations turned into deadlines on this process's monotonic clock. */
export function localEntry(entry: { json: string; freshMs: number; graceMs: number }, now: number): L1Entry {
  return { json: entry.json, freshUntil: now + entry.freshMs, graceUntil: now + entry.graceMs };
}
