import type { Request } from "express";
import type { Config } from "../../config/config.js";
import { canonicalNext } from "../../lib/canonical-url.js";
import { ownOrigin } from "../csrf.js";

const NEXT_MAX_LENGTH = 2048;

/**
 * Where to send the browser after login, or undefined when `value` is not a safe place: a path on this
 * site or an http(s) URL on an allowed origin (APP_ORIGIN, FORWARD_AUTH_ALLOWED_ORIGINS, or this
 * request's own origin), in canonical form (canonicalNext: anything a browser could read as another
 * place is dropped, never followed).
 */
export function safeNext(value: unknown, allowedOrigins: string[], req?: Request): string | undefined {
  if (typeof value !== "string" || value.length === 0 || value.length > NEXT_MAX_LENGTH) return undefined;
  const own = req ? ownOrigin(req) : undefined;
  return canonicalNext(value, own ? [...allowedOrigins, own] : allowedOrigins);
}

/** `safeNext` over the configured origins, for the login routes. */
export function createReturnTo(config: Config): (req: Request, next: unknown) => string | undefined {
  const origins = config.forwardAuth.returnOrigins;
  return (req, next) => safeNext(next, origins, req);
}
