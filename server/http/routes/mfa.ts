import { type Request, Router } from "express";
import { secondFactorSchema, totpConfirmSchema } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import { toPublicUser } from "../../domain/auth/user-repository.js";
import type { FactorInput, SecondFactors } from "../../domain/mfa/second-factors.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import { HttpError } from "../../lib/errors.js";
import { jsonBody } from "../body.js";
import { accountContext, sessionPort } from "../request-context.js";
import { parseBody } from "../validate.js";

/**
 * `/auth/mfa/*`: TOTP setup, confirmation and removal, recovery codes, and the second step of a sign-in
 * (`POST /auth/mfa/verify`: a code, a recovery code or a passkey, and `trustDevice`). Mounted unless MFA=off.
 */
export function createMfaRouter(deps: {
  config: Config;
  secondFactors: SecondFactors;
  limits: Pick<ProductRateLimits, "login">;
  returnTo?: (req: Request, next: unknown) => string | undefined;
}): Router {
  const { config, secondFactors, limits } = deps;
  const router = Router();

  router.get("/mfa", async (req, res) => {
    const status = await secondFactors.status(sessionPort(req, res, config));
    res.json({ ...status, required: config.mfa.mode === "required" });
  });

  router.post("/mfa/totp/setup", async (req, res) => {
    res.json(await secondFactors.setupTotp(sessionPort(req, res, config)));
  });

  router.post("/mfa/totp/confirm", jsonBody(), async (req, res) => {
    // Anonymous callers learn nothing about the body's rules.
    if (!req.user) throw new HttpError("unauthenticated");
    const session = sessionPort(req, res, config);
    const { code } = parseBody(totpConfirmSchema, req.body);
    res.json(await secondFactors.confirmTotp(session, code));
  });

  router.delete("/mfa/totp", async (req, res) => {
    await secondFactors.disableTotp(sessionPort(req, res, config));
    res.status(204).end();
  });

  router.post("/mfa/recovery-codes", async (req, res) => {
    res.json(await secondFactors.regenerateRecoveryCodes(sessionPort(req, res, config)));
  });

  // Per address like a login, before the per-account and per-device limits the check itself counts.
  router.post("/mfa/verify", limits.login, jsonBody(), async (req, res) => {
    const { trustDevice, ...factor } = parseBody(secondFactorSchema, req.body);
    const user = await secondFactors.verify(factor as FactorInput, accountContext(req, res, config), {
      trustDevice,
    });
    const next = deps.returnTo?.(req, req.body?.next);
    res.json({ user: toPublicUser(user), ...(next ? { next } : {}) });
  });

  return router;
}
