import type { Logger } from "../../infra/logging/logger.js";
import type { RateLimitDecision, RateLimitStore } from "./store.js";

/** After a failed Redis check, how long other requests stay on the local limiter before one probes again. */
const PROBE_INTERVAL_MS = 1000;

/**
 * The Redis limiter with a per-process fallback. While Redis is down each instance limits on its own with
 * `limit / instances`, so the fleet as a whole stays near the configured limit. A down Redis costs nothing
 * (ioredis reports it not ready, we do not even try); a hung one costs at most one command timeout per
 * probe interval. Counts are never copied between the two: after a switch each starts from what it had.
 */
export class FailoverRateLimitStore implements RateLimitStore {
  private degraded = false;
  private probing = false;
  private nextProbeAt = 0; // ms since epoch

  constructor(
    private readonly deps: {
      primary: RateLimitStore;
      fallback: RateLimitStore;
      /** True while the Redis connection is up (ioredis `status === "ready"`). */
      isAvailable: () => boolean;
      /** How many instances share the limits; the fallback divides each limit by it. */
      instances: number;
      logger: Logger;
    },
  ) {}

  consume(key: string, limit: number, windowUs: number, cost: number): Promise<RateLimitDecision> {
    if (!this.deps.isAvailable()) {
      this.switchToFallback();
      return this.local(key, limit, windowUs, cost);
    }
    if (this.degraded) {
      if (this.probing || Date.now() < this.nextProbeAt) return this.local(key, limit, windowUs, cost);
      this.probing = true;
    }
    return this.deps.primary.consume(key, limit, windowUs, cost).then(
      (decision) => {
        this.probing = false;
        if (this.degraded) {
          this.degraded = false;
          this.deps.logger.info(
            { component: "ratelimit" },
            "rate limiter: Redis is back; using shared limits",
          );
        }
        return decision;
      },
      (err: unknown) => {
        this.probing = false;
        this.switchToFallback(err);
        return this.local(key, limit, windowUs, cost);
      },
    );
  }

  async reset(key: string): Promise<void> {
    await this.deps.fallback.reset(key);
    if (!this.deps.isAvailable()) return;
    try {
      await this.deps.primary.reset(key);
    } catch (err) {
      this.switchToFallback(err);
    }
  }

  /**
   * Refunds where a check made now would have counted: the in-process limiter (with its share of the
   * limit) while Redis is down or not yet probed back, else Redis. A failed refund leaves the unit
   * counted, never more than that.
   */
  async refund(key: string, limit: number, windowUs: number, cost: number): Promise<void> {
    if (!this.deps.isAvailable() || this.degraded) {
      return this.deps.fallback.refund(key, this.localLimit(limit), windowUs, cost);
    }
    try {
      await this.deps.primary.refund(key, limit, windowUs, cost);
    } catch (err) {
      this.switchToFallback(err);
    }
  }

  private localLimit(limit: number): number {
    return Math.max(1, Math.floor(limit / this.deps.instances));
  }

  private local(key: string, limit: number, windowUs: number, cost: number): Promise<RateLimitDecision> {
    return this.deps.fallback.consume(key, this.localLimit(limit), windowUs, cost);
  }

  private switchToFallback(err?: unknown) {
    this.nextProbeAt = Date.now() + PROBE_INTERVAL_MS;
    if (this.degraded) return;
    this.degraded = true;
    this.deps.logger.warn(
      {
        component: "ratelimit",
        instances: this.deps.instances,
        err: err instanceof Error ? { message: err.message } : undefined,
      },
      "rate limiter: Redis unavailable; limiting in this process (limit / RATE_LIMIT_INSTANCES) until it is back",
    );
  }
}
