import { type Request, Router } from "express";
import {
  credentialsSchema,
  passwordChangeSchema,
  reauthenticationSchema,
  registrationSchema,
  tokenLoginSchema,
} from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { AccountRecovery } from "../../domain/auth/account-recovery.js";
import type { AccountService } from "../../domain/auth/account-service.js";
import { toPublicUser } from "../../domain/auth/user-repository.js";
import type { SecondFactors } from "../../domain/mfa/second-factors.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import { sessionToken } from "../../domain/session/session-token.js";
import { readCookie } from "../../lib/cookies.js";
import { ERROR_CATALOG } from "../../lib/error-catalog.js";
import { HttpError } from "../../lib/errors.js";
import { isAppRequest, markApp } from "../bearer.js";
import { jsonBody } from "../body.js";
import { accountContext, sessionPort } from "../request-context.js";
import { parseBody } from "../validate.js";
import { createRecoveryRouter } from "./recovery.js";

/** The one answer to a registration under EMAIL_VERIFICATION=required, for a new and a taken address alike. */
export const REGISTRATION_ACCEPTED = {
  status: "verification_sent",
  message: "Check your inbox: the link we sent confirms your address, then you can log in.",
} as const;

/**
 * `/auth/register`, `/auth/login`, `/auth/logout`, `/auth/me`, `/auth/sessions`, `/auth/password`, and
 * the recovery routes (recovery.ts). The rules live in the account service, shared with the HTML pages;
 * this router only translates.
 */
export function createAuthRouter(deps: {
  config: Config;
  accounts: AccountService;
  recovery: AccountRecovery;
  limits: Pick<ProductRateLimits, "login" | "signIn" | "recovery">;
  /** Completes `POST /auth/token` for an account with a second factor (absent: MFA=off). */
  secondFactors?: Pick<SecondFactors, "verify">;
  /** Where `next` may send the browser after login (undefined: nowhere). */
  returnTo?: (req: Request, next: unknown) => string | undefined;
}): Router {
  const { config, accounts, limits } = deps;
  const router = Router();

  router.post("/register", limits.login, jsonBody(), async (req, res) => {
    const input = parseBody(registrationSchema, req.body);
    const user = await accounts.register(input, accountContext(req, res, config));
    if (!user) return void res.status(202).json(REGISTRATION_ACCEPTED);
    const next = deps.returnTo?.(req, req.body?.next);
    res.status(201).json({ user: toPublicUser(user), ...(next ? { next } : {}) });
  });

  router.post("/login", limits.signIn, jsonBody(), async (req, res) => {
    const input = parseBody(credentialsSchema, req.body);
    const outcome = await accounts.login(input, accountContext(req, res, config));
    if (outcome.mfaRequired) return void res.json({ mfaRequired: true, methods: outcome.methods });
    const next = deps.returnTo?.(req, req.body?.next);
    res.json({ user: toPublicUser(outcome.user), ...(next ? { next } : {}) });
  });

  router.post("/logout", async (req, res) => {
    await accounts.logout(sessionPort(req, res, config));
    res.status(204).end();
  });

  // The login of a client without a cookie jar: the same checks and limits, a token instead of a cookie.
  // With no session to hold a pending sign-in, the second factor comes in the same request as the
  // password; without it the answer is `mfa_required`, never a token.
  router.post("/token", limits.signIn, jsonBody(), async (req, res) => {
    // Signing in would end the browser session this cookie names, and the browser would never know.
    if (readCookie(req.headers.cookie, config.session.cookieName) !== undefined) {
      throw new HttpError("credentials_conflict");
    }
    const { code, recoveryCode, ...credentials } = parseBody(tokenLoginSchema, req.body);
    markApp(req);
    const context = accountContext(req, res, config);
    const outcome = await accounts.login(credentials, context);
    if (outcome.mfaRequired) {
      // A passkey needs a browser: this endpoint takes only codes.
      const methods = outcome.methods.filter((m) => m !== "passkey");
      const factor =
        code !== undefined ? { code } : recoveryCode !== undefined ? { recoveryCode } : undefined;
      // The token's session is handed out only once signed in: no pending sign-in may stay on it.
      const dropPending = () => context.session.pendingSignIn?.set(undefined);
      if (!factor || !deps.secondFactors || methods.length === 0) {
        dropPending();
        const { status, message } = ERROR_CATALOG.mfa_required;
        return void res.status(status).json({ error: { code: "mfa_required", message }, methods });
      }
      await deps.secondFactors.verify(factor, context).catch((err: unknown) => {
        dropPending();
        throw err;
      });
    }
    const loginAt = req.session.auth?.loginAt ?? Date.now();
    res.json({
      token: sessionToken(req.sessionID, config.session.secrets[0] as string),
      expiresAt: new Date(loginAt + config.session.absoluteTtlSeconds * 1000).toISOString(),
    });
  });

  router.delete("/token", async (req, res) => {
    if (!isAppRequest(req) || !req.user) throw new HttpError("unauthenticated");
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

  router.post("/reauthenticate", limits.login, jsonBody(), async (req, res) => {
    if (!req.user) throw new HttpError("unauthenticated");
    const input = parseBody(reauthenticationSchema, req.body);
    await accounts.reauthenticate(input, accountContext(req, res, config));
    res.status(204).end();
  });

  router.use(createRecoveryRouter(deps));

  return router;
}
