import type { Request, RequestHandler, Response } from "express";
import type { Config } from "../config/config.js";
import type {
  AccountContext,
  DevicePort,
  PendingSignIn,
  PendingSignInPort,
  SessionPort,
} from "../domain/auth/account-context.js";
import { type SessionAuth, sessionAmr } from "../domain/auth/session-auth.js";
import { enforceDeferred, refundRequest } from "../domain/ratelimit/rate-limit.js";
import { readCookie } from "../lib/cookies.js";
import { isAppRequest } from "./bearer.js";

declare module "express-session" {
  interface SessionData {
    /** A sign-in waiting for its second factor (begin-sign-in.ts); dropped with the session at sign-in. */
    pendingSignIn?: PendingSignIn;
  }
}

/** Express' side of the account service: the session, client and refund of one request, as plain values. */

export function clearSessionCookie(res: Response, config: Config): void {
  res.clearCookie(config.session.cookieName, {
    path: "/",
    domain: config.forwardAuth.cookieDomain,
    httpOnly: true,
    secure: config.session.cookieSecure,
    sameSite: config.session.sameSite,
  });
}

function destroySession(req: Request, res: Response, config: Config): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!req.session) {
      clearSessionCookie(res, config);
      return resolve();
    }
    req.session.destroy((err) => {
      if (err) return reject(err);
      clearSessionCookie(res, config);
      resolve();
    });
  });
}

const PENDING_DEVICE_COOKIE = Symbol("pendingDeviceCookie");
type WithDeviceCookie = Response & { [PENDING_DEVICE_COOKIE]?: string };

/**
 * Writes a device cookie set during the request after the session cookie, so the session cookie stays the
 * first Set-Cookie of a login. Mount it before express-session: the writeHead wrapped first runs last.
 */
export function deviceCookieWriter(config: Config): RequestHandler {
  return (req, res, next) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: Response, ...args: Parameters<Response["writeHead"]>) {
      const value = (res as WithDeviceCookie)[PENDING_DEVICE_COOKIE];
      // Like the session cookie: a Secure cookie is not sent over what Express sees as plain HTTP.
      if (value !== undefined && !res.headersSent && (req.secure || !config.session.cookieSecure)) {
        res.cookie(config.session.deviceCookieName, value, {
          path: "/",
          httpOnly: true,
          secure: config.session.cookieSecure,
          sameSite: config.session.sameSite,
          maxAge: config.session.deviceCookieTtlSeconds * 1000,
        });
      }
      return writeHead.apply(this, args);
    } as Response["writeHead"];
    next();
  };
}

/** The browser's device cookie: HttpOnly, Secure and SameSite as the session cookie. */
function devicePort(req: Request, res: Response, config: Config): DevicePort {
  return {
    value: readCookie(req.headers.cookie, config.session.deviceCookieName),
    set: (value) => {
      (res as WithDeviceCookie)[PENDING_DEVICE_COOKIE] = value;
    },
  };
}

/** The pending sign-in on the browser's session; setting one makes express-session save the session. */
function pendingSignInPort(req: Request): PendingSignInPort {
  return {
    get value() {
      return req.session?.pendingSignIn;
    },
    set(value) {
      if (!req.session) return;
      if (value) req.session.pendingSignIn = value;
      else delete req.session.pendingSignIn;
    },
  };
}

/**
 * Stores the request's session now. express-session sends a response's headers before it saves a changed
 * session, and a browser follows a redirect on the headers alone: call this before redirecting after a
 * sign-in (or one waiting for its second factor), or the next request can find the session half-stored.
 */
export function saveSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!req.session) return resolve();
    req.session.save((err) => (err ? reject(err) : resolve()));
  });
}

/** The request's session as the account service sees it. */
export function sessionPort(req: Request, res: Response, config: Config): SessionPort {
  return {
    get id() {
      return req.sessionID;
    },
    get user() {
      return req.user;
    },
    get auth() {
      return req.session?.auth;
    },
    // passport regenerates the session id (fixation) before it stores the user.
    logIn: (user: Express.User, auth: SessionAuth) =>
      new Promise((resolve, reject) => {
        req.logIn(user, (err) => {
          if (err) return reject(err);
          req.session.auth = auth;
          // Stored now, not at the end of the response: a client following a redirect at once would
          // otherwise find passport's save without `auth`.
          saveSession(req).then(resolve, reject);
        });
      }),
    reauthenticated(amr) {
      const auth = req.session?.auth;
      if (!auth) return;
      auth.authAt = Date.now();
      auth.amr = [...new Set([...sessionAmr(auth), ...amr])];
    },
    destroy: () => destroySession(req, res, config),
    // An app keeps no cookies: no device to remember.
    device: isAppRequest(req) ? undefined : devicePort(req, res, config),
    pendingSignIn: pendingSignInPort(req),
  };
}

/** Session, client address and user agent, and the per-address refund, of a login or registration. */
export function accountContext(req: Request, res: Response, config: Config): AccountContext {
  return {
    session: sessionPort(req, res, config),
    client: {
      ip: req.ip ?? "",
      userAgent: req.get("user-agent") ?? "",
      secure: req.secure,
      app: isAppRequest(req),
    },
    refundAddress: () => refundRequest(res),
    enforceAddress: () => enforceDeferred(res),
  };
}
