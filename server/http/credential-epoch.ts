import type { RequestHandler } from "express";
import type { Config } from "../config/config.js";
import type { UserSessions } from "../domain/session/user-sessions.js";
import type { Logger } from "../infra/logging/logger.js";
import { clearSessionCookie } from "./request-context.js";

/**
 * Ends a session issued under an older credential epoch than its user's (the password changed since,
 * possibly while that login was in flight): the session is deleted, the cookie cleared, and the request
 * goes on as anonymous. The user's epoch comes with the cached user passport just loaded, so the check
 * costs no round trip; mount it right after `restoreSessionUser()` (passport.ts).
 */
export function enforceCredentialEpoch(deps: {
  config: Config;
  sessions: Pick<UserSessions, "forget">;
  logger: Logger;
}): RequestHandler {
  const { config, sessions, logger } = deps;
  return (req, res, next) => {
    const user = req.user;
    if (!user || !req.session) return next();
    if ((req.session.auth?.epoch ?? 0) === (user.credentialEpoch ?? 0)) return next();
    const sid = req.sessionID;
    req.user = undefined;
    // A new, empty session in its place: it is saved (and a cookie set) only if this request logs in.
    req.session.regenerate((err) => {
      if (err) return next(err);
      clearSessionCookie(res, config);
      logger.info({ component: "session", userId: user.id }, "session from before a password change ended");
      sessions.forget(user.id, [sid]).then(
        () => next(),
        (forgetErr: unknown) => {
          // The session is gone; a stale index entry is pruned when the list is next read.
          logger.warn(
            { component: "session", err: { message: (forgetErr as Error).message } },
            "ended session not removed from the index",
          );
          next();
        },
      );
    });
  };
}
