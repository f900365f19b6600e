import type { Redis } from "../../infra/redis/redis-client.js";

/**
 * Which accounts refuse password attempts right now (their `login-account` limit is used up), for the
 * admin overview. Accounts are named by their rate-limit subject (a hash of the email), never the email.
 */
export interface LockedAccounts {
  /** The account refuses password attempts until `untilMs` (ms since epoch). */
  lock(subject: string, untilMs: number): Promise<void>;
  /** The account's lockout was cleared (a successful login, an operator). */
  unlock(subject: string): Promise<void>;
  /** Accounts locked at `now`. */
  count(now?: number): Promise<number>;
}

/** On Redis: one sorted set, `<prefix>:locked-accounts`, scored by when each lockout ends (ms). */
export function createRedisLockedAccounts(deps: { redis: Redis; keyPrefix: string }): LockedAccounts {
  const { redis } = deps;
  const key = `${deps.keyPrefix}:locked-accounts`;
  return {
    async lock(subject, untilMs) {
      // Ended lockouts are dropped as new ones arrive, so the set holds no more than the accounts locked now.
      await redis.multi().zremrangebyscore(key, "-inf", Date.now()).zadd(key, untilMs, subject).exec();
    },
    async unlock(subject) {
      await redis.zrem(key, subject);
    },
    async count(now = Date.now()) {
      return redis.zcount(key, `(${now}`, "+inf");
    },
  };
}

/** In this process only (no Redis). */
export function createMemoryLockedAccounts(): LockedAccounts {
  const until = new Map<string, number>();
  return {
    async lock(subject, untilMs) {
      const now = Date.now();
      for (const [s, end] of until) if (end <= now) until.delete(s);
      until.set(subject, untilMs);
    },
    async unlock(subject) {
      until.delete(subject);
    },
    async count(now = Date.now()) {
      let n = 0;
      for (const end of until.values()) if (end > now) n++;
      return n;
    },
  };
}
