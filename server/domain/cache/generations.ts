// Trust a generation read from L2 this long; the invalidation bus updates it sooner, this bounds a missed message.
const REFRESH_MS = 10_000;

export interface Generations {
  /** The category's generation, from memory when recent, else read from L2 (which may throw). */
  current(category: string, read: () => Promise<number>): Promise<number>;
  /** A newer generation learned from an invalidation (ours or another instance's); undefined: unknown. */
  learn(category: string, gen: number | undefined): void;
  /** Forget everything (messages may have been missed). */
  forgetAll(): void;
}

/** The per-category generation numbers this process believes current. */
export function createGenerations(monotonic: () => number): Generations {
  const known = new Map<string, { gen: number; at: number }>();
  let epoch = 0; // bumped by every change, so a read that overlapped one does not overwrite it

  return {
    async current(category, read) {
      const cached = known.get(category);
      if (cached && monotonic() - cached.at < REFRESH_MS) return cached.gen;
      const before = epoch;
      const gen = await read();
      if (epoch === before) known.set(category, { gen, at: monotonic() });
      return known.get(category)?.gen ?? gen;
    },
    learn(category, gen) {
      epoch++;
      if (gen === undefined) known.delete(category);
      else known.set(category, { gen, at: monotonic() });
    },
    forgetAll() {
      epoch++;
      known.clear();
    },
  };
}
