import { type Request, Router } from "express";
import {
  credentialsSchema,
  emailOnlySchema,
  emailTokenSchema,
  passwordChangeSchema,
  passwordResetSchema,
  registrationSchema,
} from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { AccountRecovery } from "../../domain/auth/account-recovery.js";
import type { AccountService } from "../../domain/auth/account-service.js";
import { toPublicUser } from "../../domain/auth/user-repository.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import { HttpError } from "../../lib/errors.js";
import { jsonBody } from "../body.js";
import { accountContext, sessionPort } from "../request-context.js";
import { parseBody } from "../validate.js";

/** The one answer to a registration under EMAIL_VERIFICATION=required, for a new and a taken address alike. */
export const REGISTRATION_ACCEPTED = {
  status: "verification_sent",
  message: "Check your inbox: the link we sent confirms your address, then you can log in.",
} as const;

/** The one answer to "forgot password", whether or not an account has the address. */
export const RESET_ACCEPTED = {
  status: "accepted",
  message: "If an account uses this address, a link to reset its password is on its way.",
} as const;

/** The one answer to "send the verification link again". */
export const VERIFICATION_ACCEPTED = {
  status: "accepted",
  message: "If this address has an account that is not confirmed yet, a new link is on its way.",
} as const;

/**
 * `/auth/register`, `/auth/login`, `/auth/logout`, `/auth/me`, `/auth/sessions`, `/auth/password`.
 * The rules live in the account service, shared with the HTML pages; this router only translates.
 */
export function createAuthRouter(deps: {
  config: Config;
  accounts: AccountService;
  recovery: AccountRecovery;
  limits: Pick<ProductRateLimits, "login" | "recovery">;
  /** Where `next` may send the browser after login (undefined: nowhere). */
  returnTo?: (req: Request, next: unknown) => string | undefined;
}): Router {
  const { config, accounts, recovery, limits } = deps;
  const router = Router();

  router.post("/register", limits.login, jsonBody(), async (req, res) => {
    const input = parseBody(registrationSchema, req.body);
    const user = await accounts.register(input, accountContext(req, res, config));
    if (!user) return void res.status(202).json(REGISTRATION_ACCEPTED);
    const next = deps.returnTo?.(req, req.body?.next);
    res.status(201).json({ user: toPublicUser(user), ...(next ? { next } : {}) });
  });

  router.post("/login", limits.login, jsonBody(), async (req, res) => {
    const input = parseBody(credentialsSchema, req.body);
    const user = await accounts.login(input, accountContext(req, res, config));
    const next = deps.returnTo?.(req, req.body?.next);
    res.json({ user: toPublicUser(user), ...(next ? { next } : {}) });
  });

  router.post("/logout", async (req, res) => {
    await accounts.logout(sessionPort(req, res, config));
    res.status(204).end();
  });

  router.get("/me", (req, res) => {
    if (!req.user) throw new HttpError("unauthenticated");
    res.json({ user: { ...toPublicUser(req.user), emailVerified: req.user.emailVerified ?? false } });
  });

  router.get("/sessions", async (req, res) => {
    res.json({ sessions: await accounts.listSessions(sessionPort(req, res, config)) });
  });

  router.delete("/sessions/:id", async (req, res) => {
    await accounts.revokeSession(sessionPort(req, res, config), String(req.params.id));
    res.status(204).end();
  });

  router.post("/sessions/revoke-others", jsonBody(), async (req, res) => {
    await accounts.revokeOtherSessions(sessionPort(req, res, config));
    res.status(204).end();
  });

  router.post("/password", jsonBody(), async (req, res) => {
    // Anonymous callers learn nothing about the body's rules.
    if (!req.user) throw new HttpError("unauthenticated");
    const input = parseBody(passwordChangeSchema, req.body);
    await accounts.changePassword(input, accountContext(req, res, config));
    res.status(204).end();
  });

  router.post("/password/forgot", limits.recovery, jsonBody(), async (req, res) => {
    const { email } = parseBody(emailOnlySchema, req.body);
    await recovery.forgotPassword(email);
    res.status(202).json(RESET_ACCEPTED);
  });

  // Token guesses count against the per-address login limit.
  router.post("/password/reset", limits.login, jsonBody(), async (req, res) => {
    const input = parseBody(passwordResetSchema, req.body);
    await recovery.resetPassword(input, accountContext(req, res, config).client);
    res.status(204).end();
  });

  router.post("/email/verify", limits.login, jsonBody(), async (req, res) => {
    const { token } = parseBody(emailTokenSchema, req.body);
    await recovery.verifyEmail(token);
    res.status(204).end();
  });

  router.post("/email/verify/resend", limits.recovery, jsonBody(), async (req, res) => {
    if (req.user) await recovery.resendVerification({ userId: req.user.id, email: req.user.email });
    else await recovery.resendVerification(parseBody(emailOnlySchema, req.body));
    res.status(202).json(VERIFICATION_ACCEPTED);
  });

  return router;
}
