import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import { type Request, Router } from "express";
import {
  passkeyLoginSchema,
  passkeyRegistrationSchema,
  passkeyRenameSchema,
} from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import { toPublicUser } from "../../domain/auth/user-repository.js";
import type { Passkeys } from "../../domain/mfa/passkeys.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import { HttpError } from "../../lib/errors.js";
import { jsonBody } from "../body.js";
import { accountContext, sessionPort } from "../request-context.js";
import { parseBody } from "../validate.js";

/**
 * `/auth/passkeys*`: register, list, rename and remove passkeys; sign in with one, without a password
 * or as the second step of a password sign-in. Mounted unless MFA=off.
 */
export function createPasskeysRouter(deps: {
  config: Config;
  passkeys: Passkeys;
  limits: Pick<ProductRateLimits, "login">;
  returnTo?: (req: Request, next: unknown) => string | undefined;
}): Router {
  const { config, passkeys, limits } = deps;
  const router = Router();

  router.post("/passkeys/register/options", async (req, res) => {
    res.json(await passkeys.registrationOptions(sessionPort(req, res, config)));
  });

  router.post("/passkeys/register", jsonBody(), async (req, res) => {
    if (!req.user) throw new HttpError("unauthenticated");
    const input = parseBody(passkeyRegistrationSchema, req.body);
    const passkey = await passkeys.register(
      sessionPort(req, res, config),
      input.response as unknown as RegistrationResponseJSON,
      input.name,
    );
    res.status(201).json({ passkey });
  });

  router.get("/passkeys", async (req, res) => {
    res.json({ passkeys: await passkeys.list(sessionPort(req, res, config)) });
  });

  router.patch("/passkeys/:id", jsonBody(), async (req, res) => {
    if (!req.user) throw new HttpError("unauthenticated");
    const { name } = parseBody(passkeyRenameSchema, req.body);
    await passkeys.rename(sessionPort(req, res, config), String(req.params.id), name);
    res.status(204).end();
  });

  router.delete("/passkeys/:id", async (req, res) => {
    await passkeys.remove(sessionPort(req, res, config), String(req.params.id));
    res.status(204).end();
  });

  // Only the global limit: the login page's autofill asks for options at every visit, and a challenge
  // proves nothing by itself (it costs one Redis key for 5 minutes; the answer is counted as a login).
  router.post("/passkeys/login/options", async (req, res) => {
    res.json(await passkeys.loginOptions(accountContext(req, res, config)));
  });

  router.post("/passkeys/login", limits.login, jsonBody(), async (req, res) => {
    const { response } = parseBody(passkeyLoginSchema, req.body);
    const outcome = await passkeys.login(
      response as unknown as AuthenticationResponseJSON,
      accountContext(req, res, config),
    );
    if (outcome.mfaRequired) return void res.json({ mfaRequired: true, methods: outcome.methods });
    const next = deps.returnTo?.(req, req.body?.next);
    res.json({ user: toPublicUser(outcome.user), ...(next ? { next } : {}) });
  });

  return router;
}
