import type { CircuitBreaker } from "./circuit-breaker.js";
import type { CacheL2 } from "./l2.js";

/** The same L2 with every call bounded in time and counted by the breaker, which skips calls while open. */
export function withBreaker(l2: CacheL2, breaker: CircuitBreaker): CacheL2 {
  return {
    kind: l2.kind,
    generation: (c) => breaker.run(() => l2.generation(c)),
    bumpGeneration: (c) => breaker.run(() => l2.bumpGeneration(c)),
    get: (c, g, k) => breaker.run(() => l2.get(c, g, k)),
    set: (c, g, k, json, freshMs, graceMs) => breaker.run(() => l2.set(c, g, k, json, freshMs, graceMs)),
    delete: (c, g, k) => breaker.run(() => l2.delete(c, g, k)),
    acquireLock: (c, g, k, leaseMs) => breaker.run(() => l2.acquireLock(c, g, k, leaseMs)),
    releaseLock: (c, g, k, token) => breaker.run(() => l2.releaseLock(c, g, k, token)),
    count: (c, g) => breaker.run(() => l2.count(c, g)),
    inspect: (c, g, k) => breaker.run(() => l2.inspect(c, g, k)),
  };
}
