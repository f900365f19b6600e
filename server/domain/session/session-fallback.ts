import type { SessionData } from "express-session";
import type { Logger } from "../../infra/logging/logger.js";
import type { Redis } from "../../infra/redis/redis-client.js";
import { DependencyUnavailableError } from "../../lib/errors.js";
import { sessionKeyHash } from "./session-records.js";
import type { SessionRevocations } from "./session-revocations.js";

/** Where signed-in reads are answered from now. */
export type SessionServing = "redis" | "database";

/**
 * SESSION_FALLBACK=database: while Redis cannot be asked, a signed-in session is read from its durable
 * record, a login keeps its new session in its record only (restored into Redis on its first read once
 * Redis is back), and a session ended meanwhile is written to a journal in the database. Redis' own copy
 * of an ended session is still there when Redis returns: before this process serves any session from
 * Redis again it reads the journal, and every session it serves is checked against it until the journal
 * row expires.
 */
export interface SessionFallback {
  /** The session `sid` from its durable record, or null (none, expired, revoked); marks Redis as lost. */
  read(sid: string): Promise<SessionData | null>;
  /** Redis could not delete `sid`: journals it (throws a 503 error when the database cannot either). */
  revoked(sid: string): Promise<void>;
  /**
   * Before a session read from Redis is served. After an outage, waits for the journal to be read first
   * (a 503 error when the database cannot); true when `sid` ended during an outage (its key is deleted).
   */
  ended(sid: string): Promise<boolean>;
  /** Redis failed a session command, or its connection dropped. */
  lost(): void;
  serving(): SessionServing;
}

/** The database fallback of the Redis session store (docs/internals/durable-sessions.md). */
export function createSessionFallback(deps: {
  redis: Redis;
  prefix: string;
  revocations: SessionRevocations;
  /** Reads a session's durable record without writing it to Redis. */
  read: (sid: string) => Promise<SessionData | null>;
  /** How long a session ended now could otherwise have lived: its journal row is kept as long, ms. */
  lifetimeMs: number;
  logger: Logger;
}): SessionFallback {
  const { redis, prefix, revocations, logger } = deps;
  const ended = new Map<string, number>(); // key hash → ms since epoch when the journal row expires
  const endedHere = new Set<string>(); // session ids this process ended while Redis was lost
  let down = false;
  let losses = 0; // a loss while the journal is being applied keeps the fallback on
  let applying: Promise<void> | undefined;

  const lost = () => {
    losses++;
    if (down) return;
    down = true;
    logger.warn(
      { component: "session" },
      "redis unreachable: signed-in sessions are served from the database (SESSION_FALLBACK=database)",
    );
  };
  // A dropped connection is an outage even for a process that sent nothing meanwhile: its Redis may come
  // back without the sessions another process ended.
  redis.on("reconnecting", lost);

  const apply = async () => {
    const started = losses;
    let rows: Map<string, number>;
    try {
      rows = await revocations.active();
    } catch (err) {
      throw new DependencyUnavailableError("database", err);
    }
    for (const [hash, expiresAt] of rows) ended.set(hash, expiresAt);
    await Promise.all([...endedHere].map((sid) => redis.del(prefix + sid)));
    endedHere.clear();
    if (losses !== started) return;
    down = false;
    logger.info(
      { component: "session", ended: rows.size },
      "redis is back: sessions ended meanwhile are applied; sessions are served from redis again",
    );
  };

  return {
    read(sid) {
      lost();
      return deps.read(sid);
    },

    async revoked(sid) {
      lost();
      const hash = sessionKeyHash(sid);
      const expiresAt = Date.now() + deps.lifetimeMs;
      try {
        await revocations.add(hash, expiresAt);
      } catch (err) {
        throw new DependencyUnavailableError("database", err);
      }
      ended.set(hash, expiresAt);
      endedHere.add(sid);
    },

    async ended(sid) {
      if (down) {
        applying ??= apply().finally(() => {
          applying = undefined;
        });
        await applying;
      }
      if (ended.size === 0) return false;
      const hash = sessionKeyHash(sid);
      const expiresAt = ended.get(hash);
      if (expiresAt === undefined) return false;
      if (expiresAt < Date.now()) {
        ended.delete(hash);
        return false;
      }
      await redis.del(prefix + sid);
      return true;
    },

    lost,
    serving: () => (down ? "database" : "redis"),
  };
}
