import { createHash } from "node:crypto";
import type { SessionData } from "express-session";
import { LRUCache } from "lru-cache";
import type { Database } from "../../infra/db/database.js";
import type { Logger } from "../../infra/logging/logger.js";
import type { Redis } from "../../infra/redis/redis-client.js";
import { DependencyUnavailableError, ServerBusyError } from "../../lib/errors.js";
import type { AuthMethod, StoredSessionAuth } from "../auth/session-auth.js";
import { createSessionFallback, type SessionFallback } from "./session-fallback.js";
import {
  createSessionRecords,
  type SessionRecord,
  type SessionRecords,
  sessionKeyHash,
} from "./session-records.js";
import { createSessionRevocations } from "./session-revocations.js";

declare module "express-session" {
  interface SessionData {
    /** Set once the session has a durable record: `h` fingerprints what the record holds. */
    durable?: { h: string };
  }
}

const RESTORE_CONCURRENCY = 8; // database lookups at once per process
const RESTORE_QUEUE_MAX = 2_000; // lookups waiting; beyond, a miss is answered 503 busy
const BREAKER_FAILURES = 5; // consecutive failed lookups that open the breaker
const BREAKER_OPEN_MS = 5_000;
const NOT_FOUND_TTL_MS = 60_000; // a signed id with no record is not looked up again for this long
const NOT_FOUND_MAX = 10_000; // entries
const TOUCHED_MAX = 50_000; // sessions whose last idle-expiry write this process remembers
const SWEEP_BATCH = 1_000; // records per statement
const SWEEP_BATCHES = 10; // statements per sweep at most
export const SWEEP_INTERVAL_MS = 10 * 60_000;

/** Keys a session holds that are not the team's own data. */
const OWN_KEYS = new Set(["cookie", "auth", "passport", "durable"]);

export interface DurableSessionStats {
  /** Sessions Redis had lost, restored from their record. */
  restores: number;
  /** Signed ids missing in Redis with no usable record (none, expired, revoked, user disabled or epoch moved). */
  misses: number;
  /** Statements sent to the database by this module. */
  queries: number;
  /** Sessions read from their record while Redis was unreachable (SESSION_FALLBACK=database). */
  fallbackReads: number;
}

/** A point a restore can be held at, to race it with a revocation in tests. */
export type RestoreStage = "read" | "written";

export interface DurableSessions {
  /**
   * The session `sid` rebuilt from its record and written back into Redis with its remaining lifetime, or
   * null when it has no usable record. Throws a 503 error when the database cannot tell (breaker open,
   * too many lookups waiting, query failed): the session is not lost, the request is refused.
   */
  restore(sid: string): Promise<SessionData | null>;
  /** Before a session is written to Redis: creates or updates its record; marks `sess` when it has one. */
  beforeSave(sid: string, sess: SessionData, isNew: boolean): Promise<void>;
  /** After that write (`applied`: the key still existed): completes a record created for an older session. */
  afterSave(sid: string, sess: SessionData, applied: boolean): Promise<void>;
  /** A session read from Redis: gives a session from before the upgrade its record, refreshes the idle expiry. */
  seen(sid: string, sess: SessionData, extended: boolean): void;
  /**
   * Ends a session: `redisDelete` runs between deleting the record and (when there was none, so a
   * record for an older session may be being created) deleting it again.
   */
  remove(sid: string, redisDelete: () => Promise<void>): Promise<void>;
  /** Deletes every record of the user but `keepSid`'s (sign out everywhere, password change). */
  removeForUser(userId: string, keepSid?: string): Promise<number>;
  /** Deletes expired records, a bounded number per call. */
  sweep(): Promise<number>;
  startSweeping(): void;
  stopSweeping(): void;
  stats(): DurableSessionStats;
  /** With SESSION_FALLBACK=database: what serves sessions while Redis is unreachable. */
  readonly fallback: SessionFallback | undefined;
}

/** The durable record behind every Redis session (docs/internals/durable-sessions.md). */
export function createDurableSessions(deps: {
  db: Database;
  redis: Redis;
  /** Key prefix of the sessions in Redis. */
  prefix: string;
  ttlSeconds: number;
  absoluteTtlSeconds: number;
  maxBytes: number;
  touchSeconds: number;
  /** SESSION_FALLBACK=database: serve signed-in sessions from their records while Redis is unreachable. */
  fallback?: boolean;
  /** The cookie a restored session is given (its expiry follows the record). */
  cookie: { secure: boolean; sameSite: "strict" | "lax" | "none"; domain?: string };
  logger: Logger;
  /** Called with a restored session, to put it back in the per-user index. */
  onRestored?: (userId: string, sid: string, auth: StoredSessionAuth) => Promise<void>;
  /** Tests only: awaited at each stage of a restore. */
  hold?: (stage: RestoreStage, sid: string) => Promise<void>;
}): DurableSessions {
  const { redis, prefix, logger } = deps;
  const stats: DurableSessionStats = { restores: 0, misses: 0, queries: 0, fallbackReads: 0 };
  const records = createSessionRecords(deps.db, () => stats.queries++);
  const ttlMs = deps.ttlSeconds * 1000;
  const inflight = new Map<string, Promise<SessionData | null>>();
  const notFound = new LRUCache<string, true>({ max: NOT_FOUND_MAX, ttl: NOT_FOUND_TTL_MS });
  const touched = new LRUCache<string, number>({ max: TOUCHED_MAX });
  const migrated = new LRUCache<string, true>({ max: TOUCHED_MAX });
  let running = 0;
  const waiting: Array<() => void> = [];
  let failures = 0;
  let openUntil = 0;
  let sweepTimer: NodeJS.Timeout | undefined;

  const warn = (err: unknown, msg: string) =>
    logger.warn({ component: "session", err: { message: (err as Error)?.message } }, msg);

  const slot = async () => {
    if (running < RESTORE_CONCURRENCY) {
      running++;
      return;
    }
    if (waiting.length >= RESTORE_QUEUE_MAX) throw new ServerBusyError();
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };

  /** The record a session's data gives, or undefined for a session nobody is signed in on. */
  const recordOf = (sess: SessionData): SessionRecord | undefined => {
    const userId = sess.passport?.user;
    const auth = sess.auth;
    if (!userId || !auth) return undefined;
    const data: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(sess)) if (!OWN_KEYS.has(k)) data[k] = v;
    const large = Buffer.byteLength(JSON.stringify(data)) > deps.maxBytes;
    const expires = sess.cookie?.expires ? new Date(sess.cookie.expires).getTime() : Date.now() + ttlMs;
    return {
      userId,
      amr: [...(auth.amr ?? ["pwd"])],
      authAt: auth.authAt ?? auth.loginAt,
      ip: auth.ip,
      userAgent: auth.userAgent,
      epoch: auth.epoch ?? 0,
      createdAt: auth.loginAt,
      absoluteExpiresAt: auth.loginAt + deps.absoluteTtlSeconds * 1000,
      idleExpiresAt: expires,
      data: large ? null : data,
      dataInRedisOnly: large,
      client: auth.client ?? null,
      provider: auth.provider ?? null,
    };
  };

  /** What the record holds besides the expiries: a change means the record must be rewritten. */
  const fingerprint = (r: SessionRecord) => {
    const { idleExpiresAt: _i, absoluteExpiresAt: _a, ...held } = r;
    return createHash("sha256").update(JSON.stringify(held)).digest("base64url").slice(0, 16);
  };

  /** `restore`: written back into Redis; else only read (Redis is unreachable). */
  const lookup = async (sid: string, restore: boolean): Promise<SessionData | null> => {
    if (Date.now() < openUntil) throw new DependencyUnavailableError("database");
    await slot();
    try {
      const keyHash = sessionKeyHash(sid);
      let found: Awaited<ReturnType<SessionRecords["find"]>>;
      try {
        found = await records.find(keyHash);
        failures = 0;
      } catch (err) {
        if (++failures >= BREAKER_FAILURES) openUntil = Date.now() + BREAKER_OPEN_MS;
        throw err instanceof DependencyUnavailableError
          ? err
          : new DependencyUnavailableError("database", err);
      }
      const now = Date.now();
      const usable =
        found &&
        !found.userDisabled &&
        found.userEpoch === found.epoch &&
        found.idleExpiresAt > now &&
        found.absoluteExpiresAt > now;
      if (!found || !usable) {
        stats.misses++;
        notFound.set(sid, true);
        if (found) records.remove(keyHash).catch((err) => warn(err, "unusable session record not deleted"));
        return null;
      }
      await deps.hold?.("read", sid);
      const auth: StoredSessionAuth = {
        loginAt: found.createdAt,
        ip: found.ip,
        userAgent: found.userAgent,
        epoch: found.epoch,
        amr: found.amr as AuthMethod[],
        authAt: found.authAt,
        ...(found.client ? { client: found.client } : {}),
        ...(found.provider ? { provider: found.provider } : {}),
      };
      const sess = {
        ...(found.data ?? {}),
        cookie: {
          originalMaxAge: ttlMs,
          expires: new Date(found.idleExpiresAt).toISOString(),
          secure: deps.cookie.secure,
          httpOnly: true,
          domain: deps.cookie.domain,
          path: "/",
          sameSite: deps.cookie.sameSite,
        },
        auth,
        passport: { user: found.userId },
      } as unknown as SessionData;
      sess.durable = { h: fingerprint(found) };
      if (!restore) {
        stats.fallbackReads++;
        return sess;
      }
      const key = prefix + sid;
      await redis.set(key, JSON.stringify(sess), "PX", found.idleExpiresAt - now, "NX");
      await deps.hold?.("written", sid);
      // The fence: a revocation deletes the record before the key, so a record still there now means any
      // revocation has yet to delete the key we wrote; one gone means we may have written after it.
      if (!(await records.exists(keyHash))) {
        await redis.del(key);
        stats.misses++;
        return null;
      }
      stats.restores++;
      await deps
        .onRestored?.(found.userId, sid, auth)
        .catch((err) => warn(err, "restored session not indexed"));
      return sess;
    } finally {
      release();
    }
  };

  const sweep = async () => {
    let total = 0;
    for (let i = 0; i < SWEEP_BATCHES; i++) {
      const n = await records.sweep(SWEEP_BATCH);
      total += n;
      if (n < SWEEP_BATCH) break;
    }
    return total;
  };

  const migrate = async (sid: string, record: SessionRecord) => {
    const keyHash = sessionKeyHash(sid);
    await records.insertIfAbsent(keyHash, record);
    // As the restore's fence: a session revoked meanwhile loses the record again.
    if ((await redis.exists(prefix + sid)) === 0) await records.remove(keyHash);
  };

  /** Single-flight per session and kind: concurrent requests share one lookup. */
  const once = (sid: string, restore: boolean) => {
    if (notFound.has(sid)) return Promise.resolve(null);
    const key = restore ? sid : `read:${sid}`;
    const pending = inflight.get(key);
    if (pending) return pending;
    const started = lookup(sid, restore).finally(() => inflight.delete(key));
    inflight.set(key, started);
    return started;
  };

  const fallback = deps.fallback
    ? createSessionFallback({
        redis,
        prefix,
        revocations: createSessionRevocations(deps.db, () => stats.queries++),
        read: (sid) => once(sid, false),
        lifetimeMs: (deps.absoluteTtlSeconds + deps.ttlSeconds) * 1000,
        logger,
      })
    : undefined;

  return {
    restore: (sid) => once(sid, true),
    fallback,

    async beforeSave(sid, sess, isNew) {
      const record = recordOf(sess);
      if (!record) return;
      const h = fingerprint(record);
      if (isNew) {
        try {
          await records.insert(sessionKeyHash(sid), record);
          sess.durable = { h };
        } catch (err) {
          // The session works from Redis; it gets its record on a later request.
          sess.durable = undefined;
          warn(err, "session record not written");
        }
      } else if (!sess.durable) {
        try {
          await records.insertIfAbsent(sessionKeyHash(sid), record);
          sess.durable = { h };
        } catch (err) {
          warn(err, "session record not written");
        }
      } else if (sess.durable.h !== h) {
        try {
          await records.update(sessionKeyHash(sid), record);
          sess.durable = { h };
        } catch (err) {
          warn(err, "session record not updated");
        }
      }
    },

    async afterSave(sid, sess, applied) {
      // The key was gone (revoked, expired): a record created just before for it must not outlive it.
      if (!applied && sess.durable) {
        await records.remove(sessionKeyHash(sid)).catch((err) => warn(err, "session record not deleted"));
      }
    },

    seen(sid, sess, extended) {
      if (!sess.passport?.user) return;
      if (!sess.durable) {
        if (migrated.has(sid)) return;
        const record = recordOf(sess);
        if (!record) return;
        migrated.set(sid, true);
        migrate(sid, record).catch((err) => {
          migrated.delete(sid);
          warn(err, "session record not written");
        });
        return;
      }
      if (!extended) return;
      const now = Date.now();
      if (now - (touched.get(sid) ?? 0) < deps.touchSeconds * 1000) return;
      touched.set(sid, now);
      records
        .touch(sessionKeyHash(sid), now + ttlMs)
        .catch((err) => warn(err, "session record expiry not refreshed"));
    },

    async remove(sid, redisDelete) {
      const keyHash = sessionKeyHash(sid);
      const deleted = await records.remove(keyHash);
      await redisDelete();
      if (deleted === 0) await records.remove(keyHash);
      touched.delete(sid);
    },

    removeForUser: (userId, keepSid) =>
      records.removeForUser(
        userId,
        keepSid === undefined || keepSid === "" ? undefined : sessionKeyHash(keepSid),
      ),

    sweep,

    startSweeping() {
      if (sweepTimer) return;
      sweepTimer = setInterval(() => {
        sweep().then(
          (n) =>
            n > 0 && logger.info({ component: "session", removed: n }, "expired session records removed"),
          (err: unknown) => warn(err, "expired session records not removed"),
        );
      }, SWEEP_INTERVAL_MS);
      sweepTimer.unref();
    },

    stopSweeping() {
      if (sweepTimer) clearInterval(sweepTimer);
      sweepTimer = undefined;
    },

    stats: () => ({ ...stats }),
  };
}
