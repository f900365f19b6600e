import type { Request } from "express";
import { type Session, type SessionData, Store } from "express-session";
import { LRUCache } from "lru-cache";
import { SessionExtension } from "./session-extension.js";

type Callback<T = unknown> = (err?: unknown, value?: T | null) => void;

/**
 * The embedded default when no Redis is configured: bounded (LRU) and expiring, unlike express-session's
 * MemoryStore, which never evicts. Sessions live in this process only. Writes follow the Redis store's
 * rule: a session read from the store (or already written) is only updated while it still exists, a new
 * one only created, so a revoked, logged-out or evicted session is never written back.
 */
export class BoundedMemoryStore extends Store {
  private readonly sessions: LRUCache<string, string>;
  /** Session objects that exist (or existed) in the store: loaded by express-session, or written. */
  private readonly existing = new WeakSet<object>();
  private readonly extension: SessionExtension;

  /** `touchFraction` as SESSION_TOUCH_FRACTION (default 0: every read extends). */
  constructor(options: { max: number; ttlSeconds: number; touchFraction?: number }) {
    super();
    this.sessions = new LRUCache({ max: options.max, ttl: options.ttlSeconds * 1000, ttlAutopurge: false });
    this.extension = new SessionExtension(options.ttlSeconds, options.touchFraction);
  }

  private ttlMs(sess: SessionData, fallbackMs: number): number {
    const expires = sess.cookie?.expires ? new Date(sess.cookie.expires).getTime() - Date.now() : undefined;
    return expires && expires > 0 ? expires : fallbackMs;
  }

  /** Reads the session and extends it once its remaining lifetime is below the threshold (as Redis' script). */
  override get(sid: string, cb: Callback<SessionData>): void {
    const raw = this.sessions.get(sid);
    if (!raw) {
      cb(null, null);
      return;
    }
    const sess = JSON.parse(raw) as SessionData;
    if (this.extension.isDue(this.sessions.getRemainingTTL(sid))) {
      this.sessions.set(sid, raw, { ttl: this.sessions.ttl });
      this.extension.markExtended(sess);
    }
    cb(null, sess);
  }

  /** Whether the session exists, without extending it (the per-user index's check). */
  has(sid: string): boolean {
    return this.sessions.has(sid);
  }

  override createSession(req: Request, data: SessionData): Session & SessionData {
    const sess = super.createSession(req, data);
    this.existing.add(sess);
    this.extension.carry(data, sess);
    return sess;
  }

  /** True when reading `session` extended its expiry: the cookie's expiry should follow. */
  wasExtended(session: object): boolean {
    return this.extension.wasExtended(session);
  }

  override set(sid: string, sess: SessionData, cb?: Callback): void {
    // `has` is false for an expired entry, as Redis' XX is for an expired key.
    if (this.existing.has(sess) === this.sessions.has(sid)) {
      this.sessions.set(sid, JSON.stringify(sess), { ttl: this.ttlMs(sess, this.sessions.ttl) });
      this.existing.add(sess);
    }
    cb?.(null);
  }

  /** Nothing to do: `get` already extended the expiry if it was due. */
  override touch(_sid: string, _sess: SessionData, cb?: Callback): void {
    cb?.(null);
  }

  override destroy(sid: string, cb?: Callback): void {
    this.sessions.delete(sid);
    cb?.(null);
  }

  override length(cb: (err: unknown, length?: number) => void): void {
    cb(null, this.sessions.size);
  }
}
