import { Router } from "express";
import { emailOnlySchema, emailTokenSchema } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { EmailChange } from "../../domain/auth/email-change.js";
import type { StepUp } from "../../domain/auth/step-up.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import { jsonBody } from "../body.js";
import { requireRecentAuthentication } from "../step-up.js";
import { parseBody } from "../validate.js";

/** The one answer to an email change, whether or not another account has the address. */
export const EMAIL_CHANGE_ACCEPTED = {
  status: "accepted",
  message:
    "A link to confirm the new address is on its way to it. The account keeps its address until the link is used.",
} as const;

/**
 * `POST /auth/email` (step-up: the new address gets a link) and `POST /auth/email/change` (the link's
 * token; no sign-in needed, it may open in another browser).
 */
export function createEmailChangeRouter(deps: {
  config: Config;
  accounts: Pick<StepUp, "requireRecentAuthentication">;
  emailChange: EmailChange;
  limits: Pick<ProductRateLimits, "login" | "recovery">;
}): Router {
  const { emailChange, limits } = deps;
  const router = Router();

  router.post("/email", requireRecentAuthentication(deps), limits.recovery, jsonBody(), async (req, res) => {
    const { email } = parseBody(emailOnlySchema, req.body);
    await emailChange.request(req.user as Express.User, email);
    res.status(202).json(EMAIL_CHANGE_ACCEPTED);
  });

  // Token guesses count against the per-address login limit, as for the other mailed links.
  router.post("/email/change", limits.login, jsonBody(), async (req, res) => {
    const { token } = parseBody(emailTokenSchema, req.body);
    await emailChange.confirm(token);
    res.status(204).end();
  });

  return router;
}
