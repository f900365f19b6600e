import type { Logger } from "../../infra/logging/logger.js";
import type { SessionFallback } from "./session-fallback.js";
import type { SessionIndex } from "./session-index.js";

/**
 * The per-user index while the database fallback may be serving: a login or a logout must not fail
 * because the index (in Redis) cannot be written. A session created meanwhile is indexed again when it is
 * restored into Redis; an entry of an ended session is pruned when the list is next read. Listing still
 * needs Redis.
 */
export function fallbackTolerantIndex(
  index: SessionIndex,
  fallback: SessionFallback,
  logger: Logger,
): SessionIndex {
  const tolerate = async (write: Promise<void>) => {
    try {
      await write;
    } catch (err) {
      // Once per outage: the fallback logs the outage itself.
      const first = fallback.serving() === "redis";
      fallback.lost();
      if (first)
        logger.warn(
          { component: "session", err: { message: (err as Error).message } },
          "session index not updated: redis unreachable",
        );
    }
  };
  return {
    add: (userId, entry) => tolerate(index.add(userId, entry)),
    touch: (userId, sid, lastSeenAt) => tolerate(index.touch(userId, sid, lastSeenAt)),
    remove: (userId, sids) => tolerate(index.remove(userId, sids)),
    list: (userId) => index.list(userId),
  };
}
