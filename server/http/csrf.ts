import type { Request, RequestHandler } from "express";
import type { Logger } from "../infra/logging/logger.js";
import { HttpError } from "../lib/errors.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export const csrfRejected = () => new HttpError("csrf_rejected");

function originOf(value: string): string | undefined {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The origin the browser sees for this app: scheme from `req.protocol` and host from `req.host`, which
 * follow X-Forwarded-Proto/-Host only from proxies trusted by `trust proxy` (so a client cannot claim
 * an origin by sending those headers itself).
 */
export function ownOrigin(req: Request): string | undefined {
  const host = req.host;
  return host ? originOf(`${req.protocol}://${host}`) : undefined;
}

/**
 * Refuses state-changing requests (POST, PUT, PATCH, DELETE) that a browser sent from another origin:
 * `Sec-Fetch-Site` must be `same-origin` or `none`; when a browser does not send it, `Origin` (or else
 * `Referer`) must be one of `allowedOrigins` (APP_ORIGIN) or, when none are configured, the request's
 * own origin. A request with none of these headers did not come from a browser page (curl, another
 * server, tests) and passes: CSRF needs a victim's browser.
 */
export function csrfProtection(deps: {
  allowedOrigins: string[];
  logger: Logger;
  /** Called once per refused request (the security event log). */
  onRefused?: () => void;
  /** Requests that need no check (authenticated by a header a browser never adds by itself). */
  exempt?: (req: Request) => boolean;
}): RequestHandler {
  const { allowedOrigins, logger } = deps;
  const configured = new Set(allowedOrigins);
  const allowed = (origin: string | undefined, req: Request) =>
    origin !== undefined && (configured.size > 0 ? configured.has(origin) : origin === ownOrigin(req));

  return (req, _res, next) => {
    if (SAFE_METHODS.has(req.method) || deps.exempt?.(req)) return next();
    const site = req.get("sec-fetch-site");
    const origin = req.get("origin");
    const referer = req.get("referer");

    let ok: boolean;
    let reason: string;
    if (site !== undefined) {
      // A configured front-end on a sibling origin may still post, by explicit APP_ORIGIN entry only.
      ok = site === "same-origin" || site === "none" || (origin !== undefined && configured.has(origin));
      reason = "sec-fetch-site";
    } else if (origin !== undefined) {
      // "null" (sandboxed frames, some redirects) never matches an origin.
      ok = allowed(originOf(origin), req);
      reason = "origin";
    } else if (referer !== undefined) {
      ok = allowed(originOf(referer), req);
      reason = "referer";
    } else {
      ok = true;
      reason = "no browser headers";
    }
    if (ok) return next();
    logger.debug({ method: req.method, path: req.path, site, origin, reason }, "csrf check refused request");
    deps.onRefused?.();
    next(csrfRejected());
  };
}
