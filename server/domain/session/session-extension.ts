import type { SessionData } from "express-session";

/**
 * The rolling idle timeout as both session stores apply it: a read extends the session to a full TTL once
 * its remaining lifetime has fallen below `ttl * (1 - touchFraction)`, and the session objects whose read
 * did so are remembered, so the rolling cookie follows (rolling-cookie.ts) on those responses only.
 */
export class SessionExtension {
  readonly ttlMs: number;
  /** Remaining lifetime (ms) below which a read extends the session. */
  readonly thresholdMs: number;
  private readonly extended = new WeakSet<object>();

  /** `touchFraction` as SESSION_TOUCH_FRACTION (0: every read extends). */
  constructor(ttlSeconds: number, touchFraction = 0) {
    this.ttlMs = ttlSeconds * 1000;
    this.thresholdMs = Math.ceil(this.ttlMs * (1 - touchFraction));
  }

  /** Whether a session with `remainingMs` to live is due for extension (negative: it has no expiry). */
  isDue(remainingMs: number): boolean {
    return remainingMs >= 0 && remainingMs < this.thresholdMs;
  }

  /** Records that reading `sess` extended it. */
  markExtended(sess: SessionData): void {
    this.extended.add(sess);
  }

  /** express-session built `session` from the stored `data`: it carries `data`'s extension. */
  carry(data: SessionData, session: object): void {
    if (this.extended.has(data)) this.extended.add(session);
  }

  /** True when reading `session` extended its expiry: the cookie's expiry should follow. */
  wasExtended(session: object): boolean {
    return this.extended.has(session);
  }
}
