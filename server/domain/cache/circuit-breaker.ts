import { CallTimeoutError, CircuitOpenError } from "./errors.js";

export type BreakerState = "closed" | "open" | "half-open";

export { CallTimeoutError, CircuitOpenError };

export interface CircuitBreaker {
  /** Runs `fn` with a timeout unless the breaker is open; failures (errors, timeouts) count towards opening it. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  state(): BreakerState;
  failures(): number;
}

/**
 * Closed: calls go through. After `threshold` consecutive failures: open, calls fail at once for
 * `cooldownMs`. Then half-open: exactly one probe call goes through; success closes, failure re-opens.
 */
export function createCircuitBreaker(options: {
  threshold: number;
  cooldownMs: number;
  timeoutMs: number;
  onStateChange?: (state: BreakerState, cause?: Error) => void;
  /** Monotonic clock, ms. */
  now?: () => number;
}): CircuitBreaker {
  const { threshold, cooldownMs, timeoutMs, onStateChange } = options;
  const now = options.now ?? (() => performance.now());
  let current: BreakerState = "closed";
  let consecutive = 0;
  let totalFailures = 0;
  let openedAt = 0;
  let probing = false;

  const move = (next: BreakerState, cause?: Error) => {
    if (next === current) return;
    current = next;
    onStateChange?.(next, cause);
  };

  const withTimeout = <T>(fn: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new CallTimeoutError(timeoutMs)), timeoutMs);
      fn().then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });

  return {
    async run(fn) {
      let probe = false;
      if (current === "open") {
        if (now() - openedAt < cooldownMs || probing) throw new CircuitOpenError();
        move("half-open");
      }
      if (current === "half-open") {
        if (probing) throw new CircuitOpenError();
        probing = true;
        probe = true;
      }
      try {
        const value = await withTimeout(fn);
        consecutive = 0;
        if (probe) move("closed");
        return value;
      } catch (err) {
        consecutive++;
        totalFailures++;
        if (probe || consecutive >= threshold) {
          openedAt = now();
          move("open", err as Error);
        }
        throw err;
      } finally {
        if (probe) probing = false;
      }
    },
    state: () => (current === "open" && now() - openedAt >= cooldownMs ? "half-open" : current),
    failures: () => totalFailures,
  };
}
