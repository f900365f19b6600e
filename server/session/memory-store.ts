import { type SessionData, Store } from "express-session";
import { LRUCache } from "lru-cache";

type Callback<T = unknown> = (err?: unknown, value?: T | null) => void;

/**
 * The embedded default when no Redis is configured: bounded (LRU) and expiring, unlike express-session's
 * MemoryStore, which never evicts. Sessions live in this process only.
 */
export class BoundedMemoryStore extends Store {
  private readonly sessions: LRUCache<string, string>;

  constructor(options: { max: number; ttlSeconds: number }) {
    super();
    this.sessions = new LRUCache({ max: options.max, ttl: options.ttlSeconds * 1000, ttlAutopurge: false });
  }

  private ttlMs(sess: SessionData, fallbackMs: number): number {
    const expires = sess.cookie?.expires ? new Date(sess.cookie.expires).getTime() - Date.now() : undefined;
    return expires && expires > 0 ? expires : fallbackMs;
  }

  override get(sid: string, cb: Callback<SessionData>): void {
    const raw = this.sessions.get(sid);
    cb(null, raw ? (JSON.parse(raw) as SessionData) : null);
  }

  override set(sid: string, sess: SessionData, cb?: Callback): void {
    this.sessions.set(sid, JSON.stringify(sess), { ttl: this.ttlMs(sess, this.sessions.ttl) });
    cb?.(null);
  }

  override touch(sid: string, sess: SessionData, cb?: Callback): void {
    const raw = this.sessions.get(sid);
    if (raw) this.sessions.set(sid, raw, { ttl: this.ttlMs(sess, this.sessions.ttl) });
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
