import type { Redis } from "../../infra/redis/redis-client.js";

const HOUR_MS = 3_600_000;
const KEEP_SECONDS = 2 * 86_400; // a bucket outlives the day the overview shows

export type SignInOutcome = "succeeded" | "failed" | "locked";

/** One hour of the last day, oldest first. */
export interface HourCounts {
  hour: string; // ISO 8601, the start of the hour
  succeeded: number;
  failed: number;
  locked: number;
}

/** Sign-ins per hour for the admin overview: one hash per hour, shared by every instance. */
export interface SignInStats {
  count(outcome: SignInOutcome, now?: number): Promise<void>;
  /** The 24 hours ending with the current one. */
  lastDay(now?: number): Promise<HourCounts[]>;
}

const hoursOfDay = (now: number) => {
  const current = Math.floor(now / HOUR_MS);
  return Array.from({ length: 24 }, (_, i) => current - 23 + i);
};

const toCounts = (hour: number, fields: Record<string, string | number | undefined>): HourCounts => ({
  hour: new Date(hour * HOUR_MS).toISOString(),
  succeeded: Number(fields.succeeded ?? 0),
  failed: Number(fields.failed ?? 0),
  locked: Number(fields.locked ?? 0),
});

/** On Redis: `<prefix>:signin-stats:<hour>` hashes, HINCRBY and EXPIRE in one MULTI. */
export function createRedisSignInStats(deps: { redis: Redis; keyPrefix: string }): SignInStats {
  const { redis } = deps;
  const key = (hour: number) => `${deps.keyPrefix}:signin-stats:${hour}`;
  return {
    async count(outcome, now = Date.now()) {
      const k = key(Math.floor(now / HOUR_MS));
      await redis.multi().hincrby(k, outcome, 1).expire(k, KEEP_SECONDS).exec();
    },
    async lastDay(now = Date.now()) {
      const hours = hoursOfDay(now);
      const pipeline = redis.pipeline();
      for (const hour of hours) pipeline.hgetall(key(hour));
      const results = (await pipeline.exec()) ?? [];
      return hours.map((hour, i) => toCounts(hour, (results[i]?.[1] ?? {}) as Record<string, string>));
    },
  };
}

/** In this process only (no Redis). */
export function createMemorySignInStats(): SignInStats {
  const buckets = new Map<number, Record<SignInOutcome, number>>();
  return {
    async count(outcome, now = Date.now()) {
      const hour = Math.floor(now / HOUR_MS);
      const bucket = buckets.get(hour) ?? { succeeded: 0, failed: 0, locked: 0 };
      bucket[outcome]++;
      buckets.set(hour, bucket);
      for (const old of buckets.keys()) if (old < hour - 24) buckets.delete(old);
    },
    async lastDay(now = Date.now()) {
      return hoursOfDay(now).map((hour) => toCounts(hour, buckets.get(hour) ?? {}));
    },
  };
}
