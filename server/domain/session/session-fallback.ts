import type { SessionData } from "express-session";
import type { Logger } from "../../infra/logging/logger.js";
import type { Redis } from "../../infra/redis/redis-client.js";
import { DependencyUnavailableError } from "../../lib/errors.js";
import { sessionKeyHash } from "./session-records.js";
import type { SessionRevocations, UserRevocation } from "./session-revocations.js";

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
  /** The user's sessions could not be listed to end them: journals that all but `keepSid` end. */
  revokedForUser(userId: string, keepSid: string): Promise<void>;
  /**
   * Before a session read from Redis is served. After an outage, waits for the journal to be read first
   * (a 503 error when the database cannot); true when `sess` ended during an outage (its key is deleted).
   */
  ended(sid: string, sess: SessionData): Promise<boolean>;
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
  const endedUsers = new Map<string, UserRevocation>();
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
    let rows: Awaited<ReturnType<SessionRevocations["active"]>>;
    try {
      rows = await revocations.active();
    } catch (err) {
      throw new DependencyUnavailableError("database", err);
    }
    for (const [hash, expiresAt] of rows.sessions) ended.set(hash, expiresAt);
    for (const [userId, rule] of rows.users) endedUsers.set(userId, rule);
    await Promise.all([...endedHere].map((sid) => redis.del(prefix + sid)));
    endedHere.clear();
    if (losses !== started) return;
    down = false;
    logger.info(
      { component: "session", ended: rows.sessions.size, usersSignedOut: rows.users.size },
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

    async revokedForUser(userId, keepSid) {
      lost();
      const rule = {
        before: Date.now(),
        keepKeyHash: keepSid ? sessionKeyHash(keepSid) : "",
        expiresAt: Date.now() + deps.lifetimeMs,
      };
      try {
        await revocations.addForUser(userId, rule);
      } catch (err) {
        throw new DependencyUnavailableError("database", err);
      }
      endedUsers.set(userId, rule);
    },

    async ended(sid, sess) {
      if (down) {
        applying ??= apply().finally(() => {
          applying = undefined;
        });
        await applying;
      }
      if (ended.size === 0 && endedUsers.size === 0) return false;
      const hash = sessionKeyHash(sid);
      const now = Date.now();
      const expiresAt = ended.get(hash);
      if (expiresAt !== undefined && expiresAt < now) ended.delete(hash);
      const userId = sess.passport?.user;
      const rule = userId === undefined ? undefined : endedUsers.get(userId);
      if (rule && userId !== undefined && rule.expiresAt < now) endedUsers.delete(userId);
      const byUser =
        rule !== undefined &&
        rule.expiresAt >= now &&
        hash !== rule.keepKeyHash &&
        (sess.auth?.loginAt ?? 0) <= rule.before;
      if (!byUser && (expiresAt === undefined || expiresAt < now)) return false;
      await redis.del(prefix + sid);
      return true;
    },

    lost,
    serving: () => (down ? "database" : "redis"),
  };
}
