/**
 * The shared tier behind the in-process L1. Every time it hands out is a duration measured by the L2
 * itself (for Redis: the key's own PTTL), never a timestamp from some writer's clock.
 */

export interface L2Entry {
  /** The value as JSON text. */
  json: string;
  /** Fresh for this much longer, ms; zero or less: expired but still within grace. */
  freshMs: number;
  /** Servable (as stale) for this much longer, ms; always > 0 for a returned entry. */
  graceMs: number;
}

export interface L2Inspection extends L2Entry {
  /** Where the value lives, e.g. the Redis key. */
  location: string;
  sizeBytes: number;
}

export interface CacheL2 {
  readonly kind: "redis";
  /** The category's current generation (0 before the first invalidation). */
  generation(category: string): Promise<number>;
  /** Moves the category to a new generation, which orphans every value of the old one. */
  bumpGeneration(category: string): Promise<number>;
  get(category: string, gen: number, key: string): Promise<L2Entry | undefined>;
  /** Stores a value fresh for `freshMs`, then servable as stale for `graceMs` more, then gone. */
  set(
    category: string,
    gen: number,
    key: string,
    json: string,
    freshMs: number,
    graceMs: number,
  ): Promise<void>;
  delete(category: string, gen: number, key: string): Promise<void>;
  /** Takes the loading lease for a key; returns its token, or undefined when another holder has it. */
  acquireLock(category: string, gen: number, key: string, leaseMs: number): Promise<string | undefined>;
  /** Releases the lease only if `token` still holds it. */
  releaseLock(category: string, gen: number, key: string, token: string): Promise<void>;
  /** Live values in a category's generation. */
  count(category: string, gen: number): Promise<number>;
  inspect(category: string, gen: number, key: string): Promise<L2Inspection | undefined>;
}
