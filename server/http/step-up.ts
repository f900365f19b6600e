import type { RequestHandler, Response } from "express";
import type { Config } from "../config/config.js";
import type { StepUp } from "../domain/auth/step-up.js";
import { HttpError } from "../lib/errors.js";
import { sessionPort } from "./request-context.js";

/**
 * Guards a sensitive route: 401 without a session, 403 `reauthentication_required` unless the person
 * authenticated on this session within REAUTH_MAX_AGE_SECONDS (`POST /auth/reauthenticate` makes it
 * recent). For the product's routes and for teams' own (`/api`).
 */
export function requireRecentAuthentication(deps: {
  config: Config;
  accounts: Pick<StepUp, "requireRecentAuthentication">;
}): RequestHandler {
  const { config, accounts } = deps;
  return (req, res, next) => {
    accounts.requireRecentAuthentication(sessionPort(req, res, config));
    next();
  };
}

/**
 * The pages' guard for a sensitive form: the login page without a session, "confirm it is you" (then
 * `back`) without a recent authentication. Put before any rate limit: a refused request costs no budget.
 */
export function recentAuthenticationPage(
  deps: { config: Config; accounts: Pick<StepUp, "requireRecentAuthentication"> },
  back: string,
): RequestHandler {
  const { config, accounts } = deps;
  return (req, res, next) => {
    if (!req.user) return res.redirect(303, "/login");
    try {
      accounts.requireRecentAuthentication(sessionPort(req, res, config));
    } catch (err) {
      if (askAgain(err, res, back)) return;
      throw err;
    }
    next();
  };
}

/** Where a page sends the browser to confirm it is the owner before `back` (a path on this site). */
export const CONFIRM_PATH = "/account/confirm";

/**
 * For a page action refused for want of a recent authentication: sends the browser to the confirmation
 * page, which returns to `back`. Returns false for any other error (the caller rethrows it).
 */
export function askAgain(err: unknown, res: Response, back: string): boolean {
  if (!(err instanceof HttpError) || err.code !== "reauthentication_required") return false;
  res.redirect(303, `${CONFIRM_PATH}?next=${encodeURIComponent(back)}`);
  return true;
}
