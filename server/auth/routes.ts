import { type Request, Router } from "express";
import { jsonBody } from "../http/body.js";
import { unauthenticated } from "../http/errors.js";
import type { ProductRateLimits } from "../ratelimit/policies.js";
import type { AccountService } from "./account-service.js";
import { toPublicUser } from "./user-repository.js";

/**
 * `/auth/register`, `/auth/login`, `/auth/logout`, `/auth/me`, `/auth/sessions`, `/auth/password`.
 * The rules live in the account service, shared with the HTML pages.
 */
export function createAuthRouter(deps: {
  accounts: AccountService;
  limits: Pick<ProductRateLimits, "login">;
  /** Where `next` may send the browser after login (undefined: nowhere). */
  returnTo?: (req: Request, next: unknown) => string | undefined;
}): Router {
  const { accounts, limits } = deps;
  const router = Router();

  router.post("/register", limits.login, jsonBody(), async (req, res) => {
    const user = await accounts.register(req, res, req.body);
    const next = deps.returnTo?.(req, req.body?.next);
    res.status(201).json({ user: toPublicUser(user), ...(next ? { next } : {}) });
  });

  router.post("/login", limits.login, jsonBody(), async (req, res) => {
    const user = await accounts.login(req, res, req.body);
    const next = deps.returnTo?.(req, req.body?.next);
    res.json({ user: toPublicUser(user), ...(next ? { next } : {}) });
  });

  router.post("/logout", async (req, res) => {
    await accounts.logout(req, res);
    res.status(204).end();
  });

  router.get("/me", (req, res) => {
    if (!req.user) throw unauthenticated();
    res.json({ user: toPublicUser(req.user) });
  });

  router.get("/sessions", async (req, res) => {
    res.json({ sessions: await accounts.listSessions(req) });
  });

  router.delete("/sessions/:id", async (req, res) => {
    await accounts.revokeSession(req, res, String(req.params.id));
    res.status(204).end();
  });

  router.post("/sessions/revoke-others", jsonBody(), async (req, res) => {
    await accounts.revokeOtherSessions(req);
    res.status(204).end();
  });

  router.post("/password", jsonBody(), async (req, res) => {
    await accounts.changePassword(req, req.body);
    res.status(204).end();
  });

  return router;
}
