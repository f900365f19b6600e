import type { RequestHandler } from "express";
import type { Store } from "express-session";
import type { Config } from "../config/config.js";
import { type createPassport, restoreSessionUser } from "../domain/auth/passport.js";
import type { PersonalTokens } from "../domain/auth/personal-tokens.js";
import type { UserCache } from "../domain/auth/user-cache.js";
import type { ProductRateLimits } from "../domain/ratelimit/policies.js";
import type { SecurityEvents } from "../domain/security/events.js";
import { createSessionPrefetch } from "../domain/session/prefetch.js";
import { createSessionMiddleware, enforceAbsoluteTimeout } from "../domain/session/session.js";
import type { UserSessions } from "../domain/session/user-sessions.js";
import type { Logger } from "../infra/logging/logger.js";
import { bearerSessions, cookielessApps, isAppRequest, refuseUnresolvedAuthorization } from "./bearer.js";
import { enforceCredentialEpoch } from "./credential-epoch.js";
import { csrfProtection } from "./csrf.js";
import { personalTokenAuth } from "./personal-token-auth.js";
import { deviceCookieWriter } from "./request-context.js";

export interface SessionStack {
  /**
   * bearer token → prefetch → global rate limit → CSRF, in this order. A bearer session token becomes
   * the session cookie first (bearer.ts); the prefetch comes next so its session read and the limiter's
   * check leave in one Redis write; the limiter turns a flood away before
   * express-session does any work; CSRF refuses a cross-site request before its session is read.
   * Routes that need no session (the operators' bearer-token API) are mounted between `front` and `session`.
   */
  front: RequestHandler[];
  /**
   * The refusal of an Authorization header nothing took, the cookie filter of apps, the device cookie's
   * writer, express-session, the absolute timeout, passport, the credential epoch,
   * `lastSeenAt`, then a personal access token's owner (no session). passport's request methods (`req.logIn`, ...) are on the app's request prototype
   * (`installPassportRequest` in app.ts).
   */
  session: RequestHandler[];
}

/** The request's path to `req.session` and `req.user`, in the one order that is correct. */
export function createSessionStack(deps: {
  config: Config;
  logger: Logger;
  store: Store;
  limits: Pick<ProductRateLimits, "global">;
  passport: ReturnType<typeof createPassport>;
  sessions: UserSessions;
  events?: Pick<SecurityEvents, "record">;
  personalTokens: PersonalTokens;
  userCache: Pick<UserCache, "lookup">;
}): SessionStack {
  const { config, logger, store, limits, passport, sessions, events } = deps;
  return {
    front: [
      bearerSessions({ cookieName: config.session.cookieName, secrets: config.session.secrets }),
      createSessionPrefetch({
        store,
        cookieName: config.session.cookieName,
        secrets: config.session.secrets,
      }),
      limits.global,
      csrfProtection({
        allowedOrigins: config.appOrigins,
        logger,
        onRefused: events && (() => events.record("csrf_refused")),
        // A bearer token is never sent by a browser on its own: no other site can make it ride along.
        exempt: isAppRequest,
      }),
    ],
    session: [
      // The admin API and console take ADMIN_API_KEY as a bearer (require-admin.ts), guesses limited.
      refuseUnresolvedAuthorization(["/admin"]),
      cookielessApps(),
      deviceCookieWriter(config),
      createSessionMiddleware({ config, store }),
      enforceAbsoluteTimeout(config),
      restoreSessionUser(passport), // passport.session(), with passport.initialize()'s methods on app.request
      enforceCredentialEpoch({ config, sessions, logger }),
      sessions.lastSeen(),
      personalTokenAuth({ tokens: deps.personalTokens, lookup: deps.userCache.lookup }),
    ],
  };
}
