import type { Request, RequestHandler, Response } from "express";
import { PERSONAL_TOKEN_PREFIX } from "../domain/auth/personal-tokens.js";
import { cookieValueOfToken, SESSION_TOKEN_PREFIX } from "../domain/session/session-token.js";
import { readCookie } from "../lib/cookies.js";
import { HttpError } from "../lib/errors.js";

/** Longer than any token this server issues, short enough that no header is worth reading past it. */
export const AUTHORIZATION_MAX = 512; // characters

// RFC 6750 section 2.1: `Bearer` (any case), one space, a b64token.
const BEARER = /^bearer ([A-Za-z0-9\-._~+/]+=*)$/i;
// A token in a URL lands in access logs, browser history and Referer headers: refused wherever it is.
const TOKEN_IN_QUERY = new RegExp(`[?&]access_token=|${SESSION_TOKEN_PREFIX}|${PERSONAL_TOKEN_PREFIX}`, "i");

const APP = Symbol("appClient");
const UNRESOLVED = Symbol("unresolvedAuthorization");
const PERSONAL = Symbol("personalToken");
type Marked = { [APP]?: true; [UNRESOLVED]?: true; [PERSONAL]?: string };

/** True for a request authenticated by a bearer token: no cookies, no CSRF check. */
export function isAppRequest(req: Request): boolean {
  return (req as Request & Marked)[APP] === true;
}

/** The personal access token the request carries (resolved after the session stack), if any. */
export function personalTokenOf(req: Request): string | undefined {
  return (req as Request & Marked)[PERSONAL];
}

/** Answers this request without any Set-Cookie (a client with no cookie jar: `POST /auth/token`). */
export function markApp(req: Request): void {
  (req as Request & Marked)[APP] = true;
}

export function invalidAuthorization(res: Response): HttpError {
  res.setHeader("WWW-Authenticate", 'Bearer error="invalid_token"');
  return new HttpError("invalid_authorization");
}

/**
 * `Authorization: Bearer <session token>` read as the session cookie it stands for: the header becomes
 * the request's session cookie before anything reads the session, so the prefetch, express-session, the
 * timeouts, revocation and the credential epoch treat both alike (one Redis round trip, shared with the
 * rate limiter's). Mount first. A request carrying a session cookie too is refused, and so is a token in
 * the query string. Any other Authorization is left to the routes that take one (the admin key) and to
 * `refuseUnresolvedAuthorization`, which ends the rest.
 */
export function bearerSessions(deps: { cookieName: string; secrets: string[] }): RequestHandler {
  const { cookieName, secrets } = deps;
  return (req, res, next) => {
    const query = req.url.indexOf("?");
    if (query >= 0 && TOKEN_IN_QUERY.test(req.url.slice(query))) throw new HttpError("token_in_query");
    const header = req.headers.authorization;
    if (header === undefined) return next();
    const token = header.length <= AUTHORIZATION_MAX ? BEARER.exec(header)?.[1] : undefined;
    if (token?.startsWith(PERSONAL_TOKEN_PREFIX)) {
      if (readCookie(req.headers.cookie, cookieName) !== undefined)
        throw new HttpError("credentials_conflict");
      (req as Request & Marked)[PERSONAL] = token;
      markApp(req);
      return next();
    }
    if (!token?.startsWith(SESSION_TOKEN_PREFIX)) {
      (req as Request & Marked)[UNRESOLVED] = true;
      return next();
    }
    const value = cookieValueOfToken(token, secrets);
    if (!value) throw invalidAuthorization(res);
    if (readCookie(req.headers.cookie, cookieName) !== undefined) throw new HttpError("credentials_conflict");
    req.headers.cookie = `${cookieName}=${encodeURIComponent(value)}`;
    markApp(req);
    next();
  };
}

/**
 * 401 for an Authorization header no route took: malformed, too long, or a token this server never
 * issued. Mount after the routes that read their own (the admin key) and before the session; `exempt`
 * path prefixes read it later themselves (the admin routes, which count every key against its limit).
 */
export function refuseUnresolvedAuthorization(exempt: string[] = []): RequestHandler {
  const skipped = (path: string) => exempt.some((p) => path === p || path.startsWith(`${p}/`));
  return (req, res, next) => {
    if ((req as Request & Marked)[UNRESOLVED] && !skipped(req.path)) throw invalidAuthorization(res);
    next();
  };
}

/**
 * Drops every Set-Cookie from the answer to an app (the session, the device cookie, a cleared cookie):
 * it has no cookie jar, and a cookie it ignores would only leak the session id into its logs. Mount
 * before express-session: the writeHead wrapped first runs last, after every cookie was added.
 */
export function cookielessApps(): RequestHandler {
  return (req, res, next) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: Response, ...args: Parameters<Response["writeHead"]>) {
      if (isAppRequest(req)) res.removeHeader("Set-Cookie");
      return writeHead.apply(this, args);
    } as Response["writeHead"];
    next();
  };
}
