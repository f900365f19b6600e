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
 * everywhere but the paths that set one up (a factor confirmed on it makes its `amr` multi-factor). A
 * session a trusted device opened passes: its owner has a factor and gave it on that browser.
 */
export function requireSecondFactorSetup(config: Config): RequestHandler {
  return (req, _res, next) => {
    if (config.mfa.mode !== "required" || !req.user) return next();
    const auth = req.session?.auth;
    // A trusted device stands in for the factor its owner has (MFA_TRUSTED_DEVICE_DAYS): nothing to set up.
    const amr = auth ? sessionAmr(auth) : [];
    if (isMultiFactor(amr) || amr.includes("trusted_device")) return next();
    if (SETUP_PATHS.some((p) => req.path === p || req.path.startsWith(`${p}/`))) return next();
    next(new HttpError("mfa_setup_required"));
  };
}
