import { RedisStore } from "connect-redis";
import type { Request } from "express";
import type { Session, SessionData } from "express-session";
import type { Redis } from "../../infra/redis/redis-client.js";
import { DependencyUnavailableError, HttpError } from "../../lib/errors.js";
import type { DurableSessions } from "./durable-sessions.js";
import { SessionExtension } from "./session-extension.js";

type Callback<T = unknown> = (err?: unknown, value?: T | null) => void;

function failFast<T>(cb: Callback<T> | undefined): Callback<T> {
  // An HttpError (the database behind a restore, too much waiting) already says what failed.
  const wrap = (err: unknown) =>
    err instanceof HttpError ? err : new DependencyUnavailableError("redis", err);
  return (err, value) => cb?.(err ? wrap(err) : null, value);
}

// Reads the session and, when its remaining lifetime has fallen below the threshold, extends it (the rule
// of SessionExtension.isDue): the rolling idle timeout costs one command per request instead of GET +
// EXPIRE, and a write only once in a while. Single key, so it runs unchanged on Redis Cluster.
const READ_AND_EXTEND = `
local value = redis.call('GET', KEYS[1])
if not value then return false end
local remaining = redis.call('PTTL', KEYS[1])
if remaining >= 0 and remaining < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return {value, 1}
end
return {value, 0}`;

type Outcome = { ok: true; raw: string | null; extended: boolean } | { ok: false; err: unknown };

type SessionRedis = Redis & {
  sessionReadAndExtend(key: string, ttlMs: number, thresholdMs: number): Promise<[string, number] | null>;
};

/**
 * connect-redis on ioredis, turning every Redis failure into a 503 instead of a 500, with a cheaper
 * rolling expiry:
 * - `get` extends the session's expiry itself, and only once its remaining lifetime has dropped by more
 *   than `touchFraction` of the TTL, so `touch` (EXPIRE after every request) has nothing left to do;
 *   `wasExtended` tells the cookie to follow (re-sent only then, see rolling-cookie.ts).
 *   The idle timeout stays exact within that fraction: an idle session ends between
 *   `ttl * (1 - touchFraction)` and `ttl` after its last request. Every request still reads the
 *   session, so a deleted (revoked) session ends at once.
 * - `prefetch` starts that read as soon as the request arrives, so it shares a Redis round trip with
 *   the rate limiter's check instead of waiting for it.
 * - `set` never brings a session back: a session read from the store (or already written by this
 *   process) is only updated while its key still exists (`SET ... XX`), so a request in flight when the
 *   session was revoked, logged out or expired cannot write it back; a new one (login) is only created
 *   (`SET ... NX`). A skipped write is not an error: the session is simply over.
 * - with `durable`, a signed-in session has a record in the database (durable-sessions.ts): a session
 *   missing in Redis is restored from it, `set` writes it first, `destroy` deletes it first. Only ids
 *   whose cookie signature verified reach `get` (express-session checks it), so a forged id never
 *   reaches the database.
 * - with the database fallback (session-fallback.ts), a failed read is answered from the record, a
 *   session that could not be written or deleted in Redis is kept or ended in the database, and a session
 *   read from Redis after an outage is checked against the sessions ended meanwhile.
 * - `length`, `ids`, `all` and `clear` are refused: they scan the keyspace, one node only on Cluster.
 *   The per-user index lists sessions.
 */
export class SessionRedisStore extends RedisStore {
  private readonly redis: SessionRedis;
  private readonly extension: SessionExtension;
  /** Reads started by `prefetch`, per session id, waiting for express-session to ask for them. */
  private readonly prefetched = new Map<string, Array<Promise<Outcome>>>();
  /** Session objects whose key exists (or existed) in Redis: loaded by express-session, or written. */
  private readonly existing = new WeakSet<object>();
  readonly durable: DurableSessions | undefined;

  constructor(options: {
    client: Redis;
    prefix: string;
    ttlSeconds: number;
    touchFraction: number;
    durable?: DurableSessions;
  }) {
    super({ client: options.client, prefix: options.prefix, ttl: options.ttlSeconds });
    this.extension = new SessionExtension(options.ttlSeconds, options.touchFraction);
    const client = options.client as SessionRedis;
    if (typeof client.sessionReadAndExtend !== "function") {
      client.defineCommand("sessionReadAndExtend", { numberOfKeys: 1, lua: READ_AND_EXTEND });
    }
    this.redis = client;
    this.durable = options.durable;
  }

  private read(sid: string): Promise<Outcome> {
    const { ttlMs, thresholdMs } = this.extension;
    return this.redis.sessionReadAndExtend(this.prefix + sid, ttlMs, thresholdMs).then(
      (reply) => ({ ok: true, raw: reply ? reply[0] : null, extended: reply?.[1] === 1 }),
      (err: unknown) => ({ ok: false, err }),
    );
  }

  /**
   * Starts reading `sid` now; the next `get(sid)` takes the result. Returns a release function to call
   * when the request ends, so a read nobody asked for (e.g. the request was rejected) is dropped.
   */
  prefetch(sid: string): () => void {
    const pending = this.read(sid);
    const queue = this.prefetched.get(sid);
    if (queue) queue.push(pending);
    else this.prefetched.set(sid, [pending]);
    return () => {
      const q = this.prefetched.get(sid);
      const i = q ? q.indexOf(pending) : -1;
      if (!q || i < 0) return;
      q.splice(i, 1);
      if (q.length === 0) this.prefetched.delete(sid);
    };
  }

  private take(sid: string): Promise<Outcome> | undefined {
    const queue = this.prefetched.get(sid);
    const pending = queue?.shift();
    if (queue && queue.length === 0) this.prefetched.delete(sid);
    return pending;
  }

  override async get(sid: string, cb?: Callback<SessionData>): Promise<void> {
    const done = failFast(cb);
    const outcome = await (this.take(sid) ?? this.read(sid));
    const fallback = this.durable?.fallback;
    if (!outcome.ok) {
      if (!fallback) return done(outcome.err);
      try {
        return done(null, await fallback.read(sid));
      } catch (err) {
        return done(err);
      }
    }
    if (outcome.raw && fallback) {
      try {
        if (await fallback.ended(sid)) return done(null, null);
      } catch (err) {
        return done(err);
      }
    }
    if (!outcome.raw) {
      if (!this.durable) return done(null, null);
      let restored: SessionData | null;
      try {
        restored = await this.durable.restore(sid);
      } catch (err) {
        return done(err);
      }
      return done(null, restored);
    }
    let sess: SessionData;
    try {
      sess = JSON.parse(outcome.raw) as SessionData;
    } catch (err) {
      // A corrupt value is a bug to see (500), not an outage (503). It can never be read, so it is
      // removed on purpose (a failed read, by contrast, never deletes anything).
      await this.redis.del(this.prefix + sid).catch(() => undefined);
      return cb?.(err);
    }
    if (outcome.extended) this.extension.markExtended(sess);
    this.durable?.seen(sid, sess, outcome.extended);
    done(null, sess);
  }

  /** express-session builds the request's session from a stored one here: remember it existed. */
  override createSession(req: Request, data: SessionData): Session & SessionData {
    const sess = super.createSession(req, data);
    this.existing.add(sess);
    this.extension.carry(data, sess);
    return sess;
  }

  /** True when reading `session` extended its expiry in Redis: the cookie's expiry should follow. */
  wasExtended(session: object): boolean {
    return this.extension.wasExtended(session);
  }

  override async set(sid: string, sess: SessionData, cb?: Callback): Promise<void> {
    const done = failFast(cb);
    const expires = sess.cookie?.expires ? new Date(sess.cookie.expires).getTime() : undefined;
    const ttlSeconds =
      expires === undefined ? this.extension.ttlMs / 1000 : Math.ceil((expires - Date.now()) / 1000);
    if (ttlSeconds <= 0) return this.destroy(sid, cb);
    const key = this.prefix + sid;
    const isNew = !this.existing.has(sess);
    try {
      await this.durable?.beforeSave(sid, sess, isNew);
      const value = JSON.stringify(sess);
      let reply: string | null;
      try {
        reply = isNew
          ? await this.redis.set(key, value, "EX", ttlSeconds, "NX")
          : await this.redis.set(key, value, "EX", ttlSeconds, "XX");
      } catch (err) {
        // The database fallback keeps a session that has its record there until Redis is back: a new
        // one is restored into Redis on its first read then. passport saves a login's session once
        // before the login stored what its record needs; the end of the request saves it again.
        const kept = sess.durable !== undefined || (isNew && sess.passport?.user !== undefined);
        if (!this.durable?.fallback || !kept) throw err;
        this.durable.fallback.lost();
        return done(null);
      }
      if (reply === "OK") this.existing.add(sess);
      await this.durable?.afterSave(sid, sess, reply === "OK");
    } catch (err) {
      return done(err);
    }
    done(null);
  }

  /** Nothing to do: `get` already extended the expiry if it was due (see the class comment). */
  override async touch(_sid: string, _sess: SessionData, cb?: Callback) {
    cb?.(null);
  }

  override async destroy(sid: string, cb?: Callback) {
    if (!this.durable) return super.destroy(sid, failFast(cb));
    const done = failFast(cb);
    try {
      // The record first: a session whose key is gone but whose record is not would be restored.
      await this.durable.remove(sid, async () => {
        try {
          await this.redis.del(this.prefix + sid);
        } catch (err) {
          // With the database fallback the session still ends: Redis' copy is deleted when it is back.
          if (!this.durable?.fallback) throw err;
          await this.durable.fallback.revoked(sid);
        }
      });
    } catch (err) {
      return done(err);
    }
    done(null);
  }

  override async length(cb?: (err: unknown, length?: number) => void) {
    cb?.(notListable());
  }

  override async ids(cb?: (err: unknown, ids?: string[]) => void) {
    cb?.(notListable());
  }

  override async all(cb?: (err: unknown, sessions?: SessionData[]) => void) {
    cb?.(notListable());
  }

  override async clear(cb?: (err?: unknown) => void) {
    cb?.(notListable());
  }
}

const notListable = () =>
  new Error("the Redis session store does not scan the keyspace; list sessions through the per-user index");
