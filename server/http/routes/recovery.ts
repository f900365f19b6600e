import { Router } from "express";
import { emailOnlySchema, emailTokenSchema, passwordResetSchema } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { AccountRecovery } from "../../domain/auth/account-recovery.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import { jsonBody } from "../body.js";
import { accountContext } from "../request-context.js";
import { parseBody } from "../validate.js";

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

/** `/auth/password/forgot`, `/auth/password/reset`, `/auth/email/verify` and `/auth/email/verify/resend`. */
export function createRecoveryRouter(deps: {
  config: Config;
  recovery: AccountRecovery;
  limits: Pick<ProductRateLimits, "login" | "recovery">;
}): Router {
  const { config, recovery, limits } = deps;
  const router = Router();

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
