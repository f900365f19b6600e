import { redisKeys } from "../../infra/redis/keys.js";
import type { Redis } from "../../infra/redis/redis-client.js";
import { DependencyUnavailableError } from "../../lib/errors.js";
import { PRUNE_GRACE_MS, type SessionIndex, type SessionIndexEntry } from "./session-index.js";

type Meta = Pick<SessionIndexEntry, "createdAt" | "ip" | "userAgent" | "client">;

/** MULTI results carry per-command errors; surface the first one. */
function check(results: Array<[Error | null, unknown]> | null): unknown[] {
  if (!results) throw new Error("transaction aborted");
  for (const [err] of results) if (err) throw err;
  return results.map(([, value]) => value);
}

/** `[member, score, member, score]` (RESP2) or `[[member, score], ...]` (RESP3) → member → score. */
function scores(reply: unknown): Map<string, number> {
  const out = new Map<string, number>();
  const items = Array.isArray(reply) ? reply : [];
  if (items.length > 0 && Array.isArray(items[0])) {
    for (const [member, score] of items as Array<[string, string | number]>) out.set(member, Number(score));
  } else {
    for (let i = 0; i + 1 < items.length; i += 2) out.set(String(items[i]), Number(items[i + 1]));
  }
  return out;
}

/**
 * The per-user index in Redis: a hash (sid → JSON metadata) and a sorted set (sid → last seen, ms) under
 * one hash tag per user, so every multi-key transaction stays in one Cluster slot. Both keys expire
 * after the longest a session can live, so an abandoned index cleans itself up.
 */
export function createRedisSessionIndex(deps: {
  redis: Redis;
  keyPrefix: string;
  /** Key of the session itself, to prune entries whose session expired. */
  sessionKey: (sid: string) => string;
  /** How long an index may outlive its last write (the longest a session can live), seconds. */
  ttlSeconds: number;
}): SessionIndex {
  const { redis, keyPrefix, sessionKey } = deps;
  const ttlMs = deps.ttlSeconds * 1000;
  const keys = redisKeys(keyPrefix).sessionIndex;
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw new DependencyUnavailableError("redis", err);
    }
  };

  const remove = (userId: string, sids: string[]) =>
    run(async () => {
      if (sids.length === 0) return;
      const { meta, seen } = keys(userId);
      check(
        await redis
          .multi()
          .hdel(meta, ...sids)
          .zrem(seen, ...sids)
          .exec(),
      );
    });

  return {
    add: (userId, entry) =>
      run(async () => {
        const { meta, seen } = keys(userId);
        const value: Meta = { createdAt: entry.createdAt, ip: entry.ip, userAgent: entry.userAgent };
        if (entry.client) value.client = entry.client;
        check(
          await redis
            .multi()
            .hset(meta, entry.sid, JSON.stringify(value))
            .zadd(seen, entry.lastSeenAt, entry.sid)
            .pexpire(meta, ttlMs)
            .pexpire(seen, ttlMs)
            .exec(),
        );
      }),

    touch: (userId, sid, lastSeenAt) =>
      run(async () => {
        const { meta, seen } = keys(userId);
        // XX: a session revoked meanwhile must not come back into the index.
        check(
          await redis
            .multi()
            .zadd(seen, "XX", lastSeenAt, sid)
            .pexpire(meta, ttlMs)
            .pexpire(seen, ttlMs)
            .exec(),
        );
      }),

    remove,

    async list(userId) {
      const { meta, seen } = keys(userId);
      const [rawMeta, rawSeen] = await run(async () =>
        check(await redis.multi().hgetall(meta).zrange(seen, "0", "-1", "WITHSCORES").exec()),
      );
      const metas = (rawMeta ?? {}) as Record<string, string>;
      const lastSeen = scores(rawSeen);
      const sids = [...new Set([...Object.keys(metas), ...lastSeen.keys()])];
      // One EXISTS per session key: they live in other slots, so no script could read them together.
      const alive = await run(() => Promise.all(sids.map((sid) => redis.exists(sessionKey(sid)))));
      const now = Date.now();
      const entries: SessionIndexEntry[] = [];
      const dead: string[] = [];
      sids.forEach((sid, i) => {
        let parsed: Meta | undefined;
        try {
          parsed = metas[sid] ? (JSON.parse(metas[sid]) as Meta) : undefined;
        } catch {
          parsed = undefined;
        }
        const young = parsed !== undefined && now - parsed.createdAt < PRUNE_GRACE_MS;
        if (!parsed || (alive[i] === 0 && !young)) {
          dead.push(sid);
          return;
        }
        entries.push({ sid, ...parsed, lastSeenAt: lastSeen.get(sid) ?? parsed.createdAt });
      });
      await remove(userId, dead);
      return entries;
    },
  };
}
