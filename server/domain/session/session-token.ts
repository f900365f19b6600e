import { createHmac } from "node:crypto";
import { unsignSessionId } from "./prefetch.js";

/**
 * The prefix of a bearer session token. Distinctive so a secret scanner (or a log filter) can recognise
 * a leaked one, and so a request can tell it from an admin key or a personal access token at a glance.
 */
export const SESSION_TOKEN_PREFIX = "rss_sess_";

/** The HMAC-SHA256 of a session id as express-session's cookie signature (base64, no padding). */
const signature = (sid: string, secret: string) =>
  createHmac("sha256", secret).update(sid).digest("base64").replace(/=+$/, "");

/**
 * A bearer token for session `sid`: the prefix, the id and the cookie's own signature (base64url), so a
 * token is exactly a session cookie in another envelope: signed with the first SESSION_SECRET, verified
 * with any of them, and a forged one never reaches the store.
 */
export function sessionToken(sid: string, secret: string): string {
  const sig = signature(sid, secret).replace(/\+/g, "-").replace(/\//g, "_");
  return `${SESSION_TOKEN_PREFIX}${sid}.${sig}`;
}

/**
 * The signed cookie value (`s:<id>.<signature>`) a bearer session token stands for, if one of `secrets`
 * signed it; undefined for anything else.
 */
export function cookieValueOfToken(token: string, secrets: string[]): string | undefined {
  if (!token.startsWith(SESSION_TOKEN_PREFIX)) return undefined;
  const body = token.slice(SESSION_TOKEN_PREFIX.length);
  const dot = body.lastIndexOf(".");
  if (dot <= 0) return undefined;
  // The id is base64url already (express-session's ids); only the signature changes alphabet.
  const sig = body
    .slice(dot + 1)
    .replace(/-/g, "+")
    .replace(/_/g, "/");
  const value = `s:${body.slice(0, dot)}.${sig}`;
  return unsignSessionId(value, secrets) === undefined ? undefined : value;
}
