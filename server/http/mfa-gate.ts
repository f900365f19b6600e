import type { RequestHandler } from "express";
import type { Config } from "../config/config.js";
import { isMultiFactor, sessionAmr } from "../domain/auth/session-auth.js";
import { HttpError } from "../lib/errors.js";

/** What a session without a second factor may still reach under MFA=required: enough to set one up or leave. */
const SETUP_PATHS = [
  "/auth/me",
  "/auth/logout",
  "/auth/mfa",
  "/auth/passkeys",
  "/auth/reauthenticate",
  "/auth/sessions",
  "/account",
  "/login",
  "/logout",
];

/**
 * MFA=required: a signed-in session not authenticated with a second factor gets `403 mfa_setup_required`
 * everywhere but the paths that set one up (a factor confirmed on it makes its `amr` multi-factor).
 */
export function requireSecondFactorSetup(config: Config): RequestHandler {
  return (req, _res, next) => {
    if (config.mfa.mode !== "required" || !req.user) return next();
    const auth = req.session?.auth;
    if (auth && isMultiFactor(sessionAmr(auth))) return next();
    if (SETUP_PATHS.some((p) => req.path === p || req.path.startsWith(`${p}/`))) return next();
    next(new HttpError("mfa_setup_required"));
  };
}
