import { LRUCache } from "lru-cache";
import { PRUNE_GRACE_MS, type SessionIndex, type SessionIndexEntry } from "./session-index.js";

/**
 * The index for embedded mode, next to the in-process session store: same contract as the Redis one,
 * bounded by the number of users kept (the least recently active are dropped first).
 */
export function createMemorySessionIndex(deps: {
  /** Whether the session itself still exists in the store. */
  exists: (sid: string) => Promise<boolean>;
  maxUsers: number;
  /** How long an index may outlive its last write (the longest a session can live), seconds. */
  ttlSeconds: number;
}): SessionIndex {
  const users = new LRUCache<string, Map<string, SessionIndexEntry>>({
    max: deps.maxUsers,
    ttl: deps.ttlSeconds * 1000,
  });
  const remove = async (userId: string, sids: string[]) => {
    const sessions = users.get(userId, { updateAgeOnGet: false });
    if (!sessions) return;
    for (const sid of sids) sessions.delete(sid);
    if (sessions.size === 0) users.delete(userId);
  };
  return {
    async add(userId, entry) {
      const sessions = users.get(userId) ?? new Map<string, SessionIndexEntry>();
      sessions.set(entry.sid, { ...entry });
      users.set(userId, sessions);
    },
    async touch(userId, sid, lastSeenAt) {
      const sessions = users.get(userId);
      const entry = sessions?.get(sid);
      if (!sessions || !entry) return;
      entry.lastSeenAt = lastSeenAt;
      users.set(userId, sessions); // refreshes the index's own expiry
    },
    remove,
    async list(userId) {
      const sessions = users.get(userId, { updateAgeOnGet: false });
      if (!sessions) return [];
      const now = Date.now();
      const entries = [...sessions.values()];
      const alive = await Promise.all(entries.map((e) => deps.exists(e.sid)));
      const dead = entries.filter((e, i) => !alive[i] && now - e.createdAt >= PRUNE_GRACE_MS);
      await remove(
        userId,
        dead.map((e) => e.sid),
      );
      return entries.filter((e) => !dead.includes(e)).map((e) => ({ ...e }));
    },
  };
}
