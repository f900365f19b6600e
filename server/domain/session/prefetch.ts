import { createHmac, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import type { Store } from "express-session";
import { LRUCache } from "lru-cache";
import { readCookie } from "../../lib/cookies.js";
import { SessionRedisStore } from "./redis-store.js";

const VERIFIED_MAX = 10_000; // entries of about 100 bytes

/** The session id from an express-session cookie value `s:<id>.<HMAC-SHA256>`, if a secret signed it. */
export function unsignSessionId(value: string, secrets: string[]): string | undefined {
  if (!value.startsWith("s:")) return undefined;
  const signed = value.slice(2);
  const dot = signed.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const sid = signed.slice(0, dot);
  const given = Buffer.from(signed.slice(dot + 1));
  for (const secret of secrets) {
    const expected = Buffer.from(
      createHmac("sha256", secret).update(sid).digest("base64").replace(/=+$/, ""),
    );
    if (expected.length === given.length && timingSafeEqual(expected, given)) return sid;
  }
  return undefined;
}

/**
 * Starts reading the session from Redis as soon as a request with a validly signed session cookie
 * arrives, before the middleware in front of express-session (the rate limiter) runs, so both Redis
 * commands leave in one pipelined write and the request waits for Redis once instead of twice.
 * express-session then takes the result from the store. Does nothing for other stores.
 */
export function createSessionPrefetch(deps: {
  store: Store;
  cookieName: string;
  secrets: string[];
  /** Cookie values whose signature was already checked, kept to skip the HMAC (entries). */
  verifiedMax?: number;
}): RequestHandler {
  const { store, cookieName, secrets } = deps;
  if (!(store instanceof SessionRedisStore)) return (_req, _res, next) => next();
  // Only values that verified are kept (secrets do not change while the process runs), so a forged
  // cookie never skips the check; a busy session sends the same value on every request.
  const verified = new LRUCache<string, string>({ max: deps.verifiedMax ?? VERIFIED_MAX });
  return (req, res, next) => {
    const value = readCookie(req.headers.cookie, cookieName);
    let sid = value ? verified.get(value) : undefined;
    if (value && sid === undefined) {
      sid = unsignSessionId(value, secrets);
      if (sid) verified.set(value, sid);
    }
    if (sid) res.once("close", store.prefetch(sid));
    next();
  };
}
