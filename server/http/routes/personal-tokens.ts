import { Router } from "express";
import { personalTokenSchema } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { PersonalTokens } from "../../domain/auth/personal-tokens.js";
import type { StepUp } from "../../domain/auth/step-up.js";
import { HttpError } from "../../lib/errors.js";
import { jsonBody } from "../body.js";
import { requireUser } from "../require-user.js";
import { requireRecentAuthentication } from "../step-up.js";
import { parseBody } from "../validate.js";

/**
 * `/auth/tokens`: the signed-in user's personal access tokens. Creating one needs a recent
 * authentication (step-up): a token outlives the session that made it.
 */
export function createPersonalTokensRouter(deps: {
  config: Config;
  accounts: Pick<StepUp, "requireRecentAuthentication">;
  tokens: PersonalTokens;
}): Router {
  const { tokens } = deps;
  const router = Router();

  router.post("/tokens", requireRecentAuthentication(deps), jsonBody(), async (req, res) => {
    const input = parseBody(personalTokenSchema, req.body);
    const { token, view } = await tokens.create(req.user as Express.User, input);
    res.status(201).json({ token, ...view });
  });

  router.get("/tokens", requireUser, async (req, res) => {
    res.json({ tokens: await tokens.list(req.user as Express.User) });
  });

  router.delete("/tokens/:id", requireUser, async (req, res) => {
    const found = await tokens.revoke(req.user as Express.User, String(req.params.id));
    if (!found) throw new HttpError("not_found", { message: "No such token" });
    res.status(204).end();
  });

  return router;
}
