import { type Request, Router } from "express";
import { credentialsSchema, passwordChangeSchema, registrationSchema } from "../../shared/validation.js";
import type { Config } from "../config/config.js";
import { jsonBody } from "../http/body.js";
import { HttpError } from "../http/errors.js";
import { parseBody } from "../http/validate.js";
import type { ProductRateLimits } from "../ratelimit/policies.js";
import type { AccountService } from "./account-service.js";
import { accountContext, sessionPort } from "./request-context.js";
import { toPublicUser } from "./user-repository.js";

/**
 * `/auth/register`, `/auth/login`, `/auth/logout`, `/auth/me`, `/auth/sessions`, `/auth/password`.
 * The rules live in the account service, shared with the HTML pages; this router only translates.
 */
export function createAuthRouter(deps: {
  config: Config;
  accounts: AccountService;
  limits: Pick<ProductRateLimits, "login">;
  /** Where `next` may send the browser after login (undefined: nowhere). */
  returnTo?: (req: Request, next: unknown) => string | undefined;
}): Router {
  const { config, accounts, limits } = deps;
  const router = Router();

  router.post("/register", limits.login, jsonBody(), async (req, res) => {
    const input = parseBody(registrationSchema, req.body);
    const user = await accounts.register(input, accountContext(req, res, config));
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
    res.json({ user: toPublicUser(req.user) });
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

  return router;
}
