import { type Request, Router } from "express";
import type { Config } from "../../config/config.js";
import { decide } from "../../config/forward-auth-rules.js";
import { isMultiFactor, sessionAmr } from "../../domain/auth/session-auth.js";
import { publicSessionId } from "../../domain/session/session-index.js";
import { canonicalHost, canonicalPath } from "../../lib/canonical-url.js";
import { HttpError } from "../../lib/errors.js";
import { tokenGrantOf } from "../personal-token-auth.js";

/**
 * The request the proxy is deciding on, from its X-Forwarded-* headers (the proxy sets them; nginx
 * examples may send X-Original-URI instead of X-Forwarded-Uri). The host is canonical (canonicalHost);
 * the target is passed to the rules as sent, which canonicalise it once (decide).
 */
function forwardedRequest(req: Request) {
  const proto = (req.get("x-forwarded-proto")?.split(",")[0]?.trim() || req.protocol).toLowerCase();
  const rawHost = req.get("x-forwarded-host")?.split(",")[0]?.trim() ?? req.get("host") ?? "";
  const uri = req.get("x-forwarded-uri") ?? req.get("x-original-uri") ?? "/";
  const method = (req.get("x-forwarded-method") ?? "GET").toUpperCase();
  const host = canonicalHost(rawHost, proto);
  const target = canonicalPath(uri);
  // The way back after login, only for a target with one reading (no dot segments to resolve).
  const original =
    host && (proto === "http" || proto === "https") && !("refused" in target) && !target.literal
      ? `${proto}://${host}${target.path}${target.search}`
      : undefined;
  return { host, uri, method, original };
}

/**
 * Header values are bytes: an address with non-ASCII characters (or `%`) is sent percent-encoded as
 * UTF-8, so decoding the header always gives the address back; a plain ASCII address is sent as is.
 */
export function headerSafeEmail(email: string): string {
  return /^[\x21-\x24\x26-\x7e]+$/.test(email) ? email : encodeURIComponent(email);
}

/** The login page with `next` bringing the browser back to what it asked for (GET navigations only). */
function loginLocation(loginUrl: string, original: string | undefined, method: string): string {
  if (!original || (method !== "GET" && method !== "HEAD")) return loginUrl;
  return `${loginUrl}${loginUrl.includes("?") ? "&" : "?"}next=${encodeURIComponent(original)}`;
}

/**
 * `GET /auth/verify`, the endpoint of nginx `auth_request`, Caddy `forward_auth` and Traefik
 * `ForwardAuth`: 200 with the identity headers (and `X-Auth-MFA`: whether the session's `amr` holds a
 * second factor) for a valid session allowed by FORWARD_AUTH_RULES, 403 for a valid session the rules
 * refuse (`second_factor_required` where an `mfa:` rule needs a second factor the session lacks), 401 otherwise (with a `Location` to the login page and back for
 * a browser). The session was read (and its expiry extended) by the session stack like on any request;
 * the user comes from the user cache.
 */
export function createForwardAuthRouter(deps: { config: Config }): Router {
  const { forwardAuth } = deps.config;
  const { headers } = forwardAuth;
  const router = Router();

  router.get("/verify", (req, res) => {
    const target = forwardedRequest(req);
    const user = req.user;
    if (!user) {
      if (req.accepts(["json", "html"]) === "html") {
        const login = loginLocation(forwardAuth.loginUrl, target.original, target.method);
        res.setHeader("Location", login);
        throw new HttpError("unauthenticated", { message: "Log in to continue", details: { login } });
      }
      throw new HttpError("unauthenticated", { message: "Log in to continue" });
    }
    // Email and domain rules see the address only once it is confirmed (the cached user, refreshed
    // when the owner confirms it), whatever EMAIL_VERIFICATION was when the session began.
    const verified = user.emailVerified === true;
    const grant = tokenGrantOf(req);
    const auth = req.session?.auth;
    const multiFactor = auth !== undefined && isMultiFactor(sessionAmr(auth));
    const groups = user.groups ?? [];
    const decision = decide(forwardAuth.rules, target.host, target.uri, {
      email: verified ? user.email : undefined,
      groups,
      scopes: grant?.scopes,
      secondFactor: multiFactor,
    });
    if (decision !== "allowed") throw new HttpError(decision);
    res.setHeader(headers.userId, user.id);
    res.setHeader(headers.email, headerSafeEmail(user.email));
    res.setHeader(headers.emailVerified, verified ? "true" : "false");
    if (grant) {
      // A personal access token: the token names the client; there is no session.
      res.setHeader(headers.tokenId, grant.id);
      res.setHeader(headers.scopes, grant.scopes.join(" "));
    } else {
      res.setHeader(headers.sessionId, publicSessionId(req.sessionID));
    }
    res.setHeader(headers.mfa, multiFactor ? "true" : "false");
    res.setHeader(headers.groups, groups.join(","));
    // Only for a session a sign-in provider opened: the backend may tell them apart.
    const provider = req.session?.auth?.provider;
    if (provider) res.setHeader(headers.provider, provider);
    res.status(200).end();
  });

  return router;
}
