import type { RequestHandler } from "express";
import session, { type Store } from "express-session";
import type { Config } from "../../config/config.js";
import type { Database } from "../../infra/db/database.js";
import type { Logger } from "../../infra/logging/logger.js";
import { redisKeys } from "../../infra/redis/keys.js";
import type { Redis } from "../../infra/redis/redis-client.js";
import type { StoredSessionAuth } from "../auth/session-auth.js";
import { createDurableSessions, type RestoreStage } from "./durable-sessions.js";
import { createMemorySessionIndex } from "./memory-session-index.js";
import { BoundedMemoryStore } from "./memory-store.js";
import { createRedisSessionIndex } from "./redis-session-index.js";
import { SessionRedisStore } from "./redis-store.js";
import { isExtendingStore, rollingCookie } from "./rolling-cookie.js";
import type { SessionIndex } from "./session-index.js";

declare module "express-session" {
  interface SessionData {
    /** Set at sign-in (session-auth.ts); the absolute timeout counts from `loginAt`. */
    auth?: StoredSessionAuth;
    passport?: { user?: string };
  }
}

/**
 * The session store: Redis when configured (with durable records in `db` unless SESSION_DURABLE=off), else
 * the bounded in-process store (with one loud warning).
 */
export function createSessionStore(deps: {
  config: Config;
  redis?: Redis;
  db?: Database;
  logger: Logger;
  /** The per-user index a restored session is put back in (set once the index exists). */
  restored?: (userId: string, sid: string, auth: StoredSessionAuth) => Promise<void>;
  restoreHold?: (stage: RestoreStage, sid: string) => Promise<void>;
}): Store {
  const { config, redis, db, logger } = deps;
  if (redis) {
    const prefix = redisKeys(config.keyPrefix).sessions;
    const durable =
      db && config.session.durable.enabled
        ? createDurableSessions({
            db,
            redis,
            prefix,
            ttlSeconds: config.session.ttlSeconds,
            absoluteTtlSeconds: config.session.absoluteTtlSeconds,
            maxBytes: config.session.durable.maxBytes,
            touchSeconds: config.session.durable.touchSeconds,
            fallback: config.session.durable.fallback,
            cookie: {
              secure: config.session.cookieSecure,
              sameSite: config.session.sameSite,
              domain: config.forwardAuth.cookieDomain,
            },
            logger,
            onRestored: deps.restored,
            hold: deps.restoreHold,
          })
        : undefined;
    return new SessionRedisStore({
      client: redis,
      prefix,
      ttlSeconds: config.session.ttlSeconds,
      touchFraction: config.session.touchFraction,
      durable,
    });
  }
  logger.warn(
    "No Redis configured (REDIS_URL): sessions are kept in this process only; they are not shared between instances and are lost on restart",
  );
  return new BoundedMemoryStore({
    max: config.session.memoryMax,
    ttlSeconds: config.session.ttlSeconds,
    touchFraction: config.session.touchFraction,
  });
}

/** The per-user session index next to the store: in Redis when configured, else in this process. */
export function createSessionIndex(deps: { config: Config; redis?: Redis; store: Store }): SessionIndex {
  const { config, redis, store } = deps;
  // A session key lives at most its absolute lifetime plus one idle period (the last touch).
  const ttlSeconds = config.session.absoluteTtlSeconds + config.session.ttlSeconds;
  if (redis && store instanceof SessionRedisStore) {
    const prefix = redisKeys(config.keyPrefix).sessions;
    return createRedisSessionIndex({
      redis,
      keyPrefix: config.keyPrefix,
      sessionKey: (sid) => `${prefix}${sid}`,
      ttlSeconds,
    });
  }
  return createMemorySessionIndex({
    exists: (sid) =>
      store instanceof BoundedMemoryStore
        ? Promise.resolve(store.has(sid)) // a read would extend the session
        : new Promise((resolve, reject) =>
            store.get(sid, (err, sess) => (err ? reject(err) : resolve(!!sess))),
          ),
    maxUsers: config.session.memoryMax,
    ttlSeconds,
  });
}

/** express-session with the cookie policy from config: HttpOnly, Secure, SameSite, rolling idle timeout. */
export function createSessionMiddleware(deps: { config: Config; store: Store }): RequestHandler {
  const { config, store } = deps;
  const middleware = session({
    store,
    name: config.session.cookieName,
    secret: config.session.secrets,
    resave: false,
    saveUninitialized: false,
    // Rolling, but only when the store extended the session (rolling-cookie.ts): an unchanged session
    // gets no Set-Cookie on most responses. A store that cannot tell re-sends it on every response.
    rolling: !isExtendingStore(store),
    // Never delete as a side effect: with "destroy", a request whose session read failed (Redis stalled)
    // ends with `store.destroy(sid)`, logging the user out. Logout and revocation destroy explicitly.
    unset: "keep",
    proxy: undefined, // follow Express's `trust proxy`
    cookie: {
      httpOnly: true,
      secure: config.session.cookieSecure,
      sameSite: config.session.sameSite,
      path: "/",
      domain: config.forwardAuth.cookieDomain,
      maxAge: config.session.ttlSeconds * 1000,
    },
  });
  if (!isExtendingStore(store)) return middleware;
  const rolling = rollingCookie({
    store,
    cookieName: config.session.cookieName,
    secret: config.session.secrets[0] as string,
  });
  return (req, res, next) => rolling(req, res, () => middleware(req, res, next));
}

/**
 * Ends sessions older than the absolute lifetime however busy they are: the old id is deleted from the
 * store and the request continues as anonymous.
 */
export function enforceAbsoluteTimeout(config: Config): RequestHandler {
  const limitMs = config.session.absoluteTtlSeconds * 1000;
  return (req, _res, next) => {
    const loginAt = req.session?.auth?.loginAt;
    if (loginAt === undefined || Date.now() - loginAt <= limitMs) return next();
    req.session.regenerate((err) => next(err));
  };
}
