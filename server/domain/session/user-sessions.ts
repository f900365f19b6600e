import type { RequestHandler } from "express";
import type { Store } from "express-session";
import type { Logger } from "../../infra/logging/logger.js";
import type { DurableSessions } from "./durable-sessions.js";
import type { SessionIndex, SessionIndexEntry } from "./session-index.js";

/** A session as its owner sees it (API and account page); times are ISO strings. */
export interface SessionView {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  ip: string;
  userAgent: string;
  /** `app`: signed in with a bearer token (a mobile app, a CLI); `browser`: with a cookie. */
  client: "browser" | "app";
  current: boolean;
}

/** A busy session writes its "last seen" time at most this often, ms. */
export const LAST_SEEN_INTERVAL_MS = 60_000;

export interface UserSessions {
  /** Records a session just logged in, with what the login stored in it, in its user's index. */
  track(
    userId: string,
    session: { id: string; auth: { loginAt: number; ip: string; userAgent: string; client?: "app" } },
  ): Promise<void>;
  /** Removes sessions from the index (after logout or regeneration; the sessions themselves are gone). */
  forget(userId: string, sids: string[]): Promise<void>;
  list(userId: string, currentSid: string): Promise<SessionView[]>;
  /** Destroys the session with this public id; false when the user has no such session. */
  revoke(userId: string, publicId: string): Promise<{ found: boolean; sid?: string }>;
  /** Destroys every session of the user except `keepSid`; returns how many. */
  revokeOthers(userId: string, keepSid: string): Promise<number>;
  /** Ends the least recently seen sessions of the user beyond `max`, never `keepSid`; returns how many. */
  trim(userId: string, max: number, keepSid: string): Promise<number>;
  /** Keeps `lastSeenAt` fresh, writing at most once per LAST_SEEN_INTERVAL_MS per session. */
  lastSeen(): RequestHandler;
}

/** Listing and revoking a user's sessions: the per-user index plus the session store itself. */
export function createUserSessions(deps: {
  store: Store;
  index: SessionIndex;
  publicId: (sid: string) => string;
  logger: Logger;
  /** Durable records: every one of the user's is deleted too, also those of sessions the index lost. */
  durable?: Pick<DurableSessions, "removeForUser" | "fallback">;
}): UserSessions {
  const { store, index, publicId, logger, durable } = deps;

  const destroy = (sid: string) =>
    new Promise<void>((resolve, reject) => store.destroy(sid, (err) => (err ? reject(err) : resolve())));

  const view = (entry: SessionIndexEntry, currentSid: string): SessionView => ({
    id: publicId(entry.sid),
    createdAt: new Date(entry.createdAt).toISOString(),
    lastSeenAt: new Date(entry.lastSeenAt).toISOString(),
    ip: entry.ip,
    userAgent: entry.userAgent,
    client: entry.client ?? "browser",
    current: entry.sid === currentSid,
  });

  return {
    async track(userId, { id, auth }) {
      await index.add(userId, {
        sid: id,
        createdAt: auth.loginAt,
        lastSeenAt: Date.now(),
        ip: auth.ip,
        userAgent: auth.userAgent,
        ...(auth.client ? { client: auth.client } : {}),
      });
    },

    forget: (userId, sids) => index.remove(userId, sids),

    async list(userId, currentSid) {
      const entries = await index.list(userId);
      return entries
        .map((e) => view(e, currentSid))
        .sort((a, b) => Number(b.current) - Number(a.current) || b.lastSeenAt.localeCompare(a.lastSeenAt));
    },

    async revoke(userId, id) {
      const entry = (await index.list(userId)).find((e) => publicId(e.sid) === id);
      if (!entry) return { found: false };
      await destroy(entry.sid);
      await index.remove(userId, [entry.sid]);
      return { found: true, sid: entry.sid };
    },

    async revokeOthers(userId, keepSid) {
      const removed = await durable?.removeForUser(userId, keepSid);
      let entries: SessionIndexEntry[];
      try {
        entries = await index.list(userId);
      } catch (err) {
        // With the database fallback the sessions still end: their records are gone, and Redis' copies
        // are deleted when it is back (the count is of the records).
        if (!durable?.fallback) throw err;
        await durable.fallback.revokedForUser(userId, keepSid);
        return removed ?? 0;
      }
      const others = entries.filter((e) => e.sid !== keepSid).map((e) => e.sid);
      await Promise.all(others.map(destroy));
      await index.remove(userId, others);
      return others.length;
    },

    async trim(userId, max, keepSid) {
      const others = (await index.list(userId))
        .filter((e) => e.sid !== keepSid)
        .sort((a, b) => a.lastSeenAt - b.lastSeenAt);
      const excess = others.slice(0, Math.max(0, others.length + 1 - max)).map((e) => e.sid);
      await Promise.all(excess.map(destroy));
      await index.remove(userId, excess);
      return excess.length;
    },

    lastSeen() {
      return (req, _res, next) => {
        const auth = req.session?.auth;
        const userId = req.user?.id;
        if (!auth || !userId) return next();
        const now = Date.now();
        if (now - (auth.lastSeenAt ?? auth.loginAt) < LAST_SEEN_INTERVAL_MS) return next();
        // Changing the session makes express-session write it once (SET instead of the usual EXPIRE).
        auth.lastSeenAt = now;
        index.touch(userId, req.sessionID, now).then(
          () => next(),
          (err: unknown) => {
            // Activity tracking must not fail the request it describes.
            logger.warn(
              { component: "session", err: { message: (err as Error).message } },
              "last seen not recorded",
            );
            next();
          },
        );
      };
    },
  };
}
