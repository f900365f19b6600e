import { Router } from "express";
import { secondFactorSchema } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { FactorInput, SecondFactors } from "../../domain/mfa/second-factors.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import { HttpError } from "../../lib/errors.js";
import { accountContext } from "../request-context.js";
import { check } from "../validate.js";
import type { ReturnTo } from "./form-errors.js";
import { formBody, isRateLimited, rateLimitMessage, send, text } from "./forms.js";
import { secondFactorPage } from "./mfa-views.js";

/** Where the login form sends a person whose account has a second factor. */
export const SECOND_FACTOR_PATH = "/login/mfa";

/** `/login/mfa`: the second step of a sign-in from the login page. */
export function createMfaPages(deps: {
  config: Config;
  secondFactors: SecondFactors;
  limits: Pick<ProductRateLimits, "login">;
  returnTo: ReturnTo;
}): Router {
  const { config, secondFactors, limits, returnTo } = deps;
  const router = Router();
  const trustDays = config.mfa.trustedDeviceSeconds / 86_400;

  router.get(SECOND_FACTOR_PATH, (req, res) => {
    const next = returnTo(req, req.query.next);
    if (req.user) return res.redirect(303, next ?? "/account");
    if (!req.session?.pendingSignIn) return res.redirect(303, "/login");
    send(res, 200, secondFactorPage({ next, trustDays }));
  });

  router.post(SECOND_FACTOR_PATH, formBody(), limits.login, async (req, res) => {
    const next = returnTo(req, req.body?.next);
    const body = { ...(req.body ?? {}) };
    // Each form posts one of the two fields; an empty one is not given. A ticked box posts "true".
    if (!text(body.recoveryCode)) delete body.recoveryCode;
    const trustDevice = body.trustDevice === "true";
    delete body.trustDevice;
    delete body.passkey; // a passkey comes from the page's script, as JSON to /auth/mfa/verify
    const page = (o: Parameters<typeof secondFactorPage>[0]) =>
      secondFactorPage({ ...o, trustDays, trustDevice });
    const input = check(secondFactorSchema, body);
    if (!input.ok)
      return send(res, 400, page({ next, errors: { code: input.problems.code ?? input.problems.body } }));
    try {
      await secondFactors.verify(input.value as FactorInput, accountContext(req, res, config), {
        trustDevice,
      });
    } catch (err) {
      if (isRateLimited(err)) {
        if (err.retryAfter !== undefined) res.setHeader("Retry-After", String(err.retryAfter));
        return send(res, 429, page({ next, alert: rateLimitMessage(err, "codes") }));
      }
      if (err instanceof HttpError && err.code === "unauthenticated") return res.redirect(303, "/login");
      if (err instanceof HttpError && err.code === "invalid_mfa_code") {
        return send(res, 401, page({ next, alert: err.message }));
      }
      throw err;
    }
    res.redirect(303, next ?? "/account");
  });

  return router;
}
