import type { Request } from "express";
import type { Config } from "../../config/config.js";
import { ownOrigin } from "../csrf.js";

const NEXT_MAX_LENGTH = 2048;

/**
 * Where to send the browser after login, or undefined when `value` is not a safe place: a path on this
 * site (`/x`, never `//host` or `/\host`, which browsers read as another host) or an http(s) URL on an
 * allowed origin (APP_ORIGIN, FORWARD_AUTH_ALLOWED_ORIGINS, or this request's own origin). Anything
 * else (other hosts, `javascript:`, control characters, backslashes) is dropped, never followed.
 */
export function safeNext(value: unknown, allowedOrigins: string[], req?: Request): string | undefined {
  if (typeof value !== "string" || value.length === 0 || value.length > NEXT_MAX_LENGTH) return undefined;
  // Browsers strip tabs and newlines from URLs and read "\" as "/": refuse them outright.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return undefined;
  if (value.startsWith("/")) {
    if (value.startsWith("//")) return undefined;
    // Resolved against a placeholder origin: a path that escapes it is not a path.
    const url = new URL(value, "http://next.invalid");
    return url.origin === "http://next.invalid" ? url.pathname + url.search + url.hash : undefined;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (!/^https?:$/.test(url.protocol) || url.username || url.password) return undefined;
  const own = req ? ownOrigin(req) : undefined;
  if (!allowedOrigins.includes(url.origin) && url.origin !== own) return undefined;
  return url.href;
}

/** `safeNext` over the configured origins, for the login routes. */
export function createReturnTo(config: Config): (req: Request, next: unknown) => string | undefined {
  const origins = config.forwardAuth.returnOrigins;
  return (req, next) => safeNext(next, origins, req);
}
