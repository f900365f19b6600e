/** The outcome of one check; times are in microseconds so both stores agree to the microsecond. */
export interface RateLimitDecision {
  allowed: boolean;
  /** The limit applied: the policy's, or its per-instance share while Redis is down. */
  limit: number;
  /** Units still available after this check. */
  remaining: number;
  /** µs until the full quota is available again. */
  resetUs: number;
  /** µs until a request of the same cost would be allowed; 0 when allowed. */
  retryAfterUs: number;
}

/**
 * A GCRA limiter keyed by string. `limit` units per `windowUs`, at most `limit` at once; capacity comes back
 * one unit every `windowUs / limit`. Implementations must be atomic per key.
 */
export interface RateLimitStore {
  consume(key: string, limit: number, windowUs: number, cost: number): Promise<RateLimitDecision>;
  /** Forgets everything counted for `key`. */
  reset(key: string): Promise<void>;
  /**
   * Gives back `cost` units that an allowed `consume` with the same `limit` and `windowUs` took, e.g. for an
   * attempt that failed because a dependency did not answer. Never more than a full quota.
   */
  refund(key: string, limit: number, windowUs: number, cost: number): Promise<void>;
}

/**
 * The algorithm both stores run (the Redis store runs the same steps in Lua). `tat` is the "theoretical
 * arrival time": when the subject's quota will be full again, in µs. Integer arithmetic only.
 */
export function gcra(
  storedTat: number | undefined,
  now: number,
  limit: number,
  windowUs: number,
  cost: number,
): { decision: RateLimitDecision; newTat?: number } {
  const interval = Math.ceil(windowUs / limit); // µs per unit
  // With the interval rounded up, `limit * interval` (not the window) is the burst that fits exactly `limit`.
  const tolerance = interval * limit;
  const tat = storedTat !== undefined && storedTat > now ? storedTat : now;
  const newTat = tat + cost * interval;
  const excess = newTat - now - tolerance;
  if (excess > 0) {
    return {
      decision: {
        allowed: false,
        limit,
        remaining: Math.floor((tolerance - (tat - now)) / interval),
        resetUs: tat - now,
        retryAfterUs: excess,
      },
    };
  }
  return {
    decision: {
      allowed: true,
      limit,
      remaining: Math.floor((tolerance - (newTat - now)) / interval),
      resetUs: newTat - now,
      retryAfterUs: 0,
    },
    newTat,
  };
}

/** The TAT after giving back `cost` units (the reverse of an allowed `gcra`); undefined when the quota is full. */
export function gcraRefund(
  storedTat: number | undefined,
  now: number,
  limit: number,
  windowUs: number,
  cost: number,
): number | undefined {
  if (storedTat === undefined) return undefined;
  const newTat = storedTat - cost * Math.ceil(windowUs / limit);
  return newTat > now ? newTat : undefined;
}
