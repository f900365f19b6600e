import { LRUCache } from "lru-cache";
import { redisKeys } from "../../infra/redis/keys.js";
import type { Redis } from "../../infra/redis/redis-client.js";
import type { SecurityEvent } from "./events.js";

/** A capped, expiring list of security events per user, newest first. */
export interface ActivityStore {
  append(userId: string, event: SecurityEvent): Promise<void>;
  recent(userId: string, limit: number): Promise<SecurityEvent[]>;
  forget(userId: string): Promise<void>;
}

export interface ActivityRetention {
  /** Events kept per user. */
  perUser: number;
  /** A user's list expires this long after its newest event. */
  retentionSeconds: number;
}

/** One list per user under a hash tag (`<prefix>:sec-events:{<user>}`): LPUSH, LTRIM and EXPIRE in one MULTI. */
export function createRedisActivityStore(
  deps: { redis: Redis; keyPrefix: string } & ActivityRetention,
): ActivityStore {
  const { redis, perUser, retentionSeconds } = deps;
  const key = redisKeys(deps.keyPrefix).securityEvents;
  return {
    async append(userId, event) {
      const results = await redis
        .multi()
        .lpush(key(userId), JSON.stringify(event))
        .ltrim(key(userId), 0, perUser - 1)
        .expire(key(userId), retentionSeconds)
        .exec();
      const failed = results?.find(([err]) => err)?.[0];
      if (!results || failed) throw failed ?? new Error("security event transaction aborted");
    },
    async recent(userId, limit) {
      const items = await redis.lrange(key(userId), 0, Math.min(limit, perUser) - 1);
      return items.flatMap((item) => {
        try {
          return [JSON.parse(item) as SecurityEvent];
        } catch {
          return [];
        }
      });
    },
    async forget(userId) {
      await redis.del(key(userId));
    },
  };
}

/** This process only: at most `maxUsers` users' lists, each expiring like the Redis one. */
export function createMemoryActivityStore(deps: { maxUsers: number } & ActivityRetention): ActivityStore {
  const { perUser } = deps;
  const lists = new LRUCache<string, SecurityEvent[]>({
    max: deps.maxUsers,
    ttl: deps.retentionSeconds * 1000,
  });
  return {
    async append(userId, event) {
      lists.set(userId, [event, ...(lists.get(userId) ?? [])].slice(0, perUser));
    },
    async recent(userId, limit) {
      return (lists.get(userId) ?? []).slice(0, limit);
    },
    async forget(userId) {
      lists.delete(userId);
    },
  };
}
