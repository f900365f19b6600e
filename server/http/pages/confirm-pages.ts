import { type Request, type Response, Router } from "express";
import { reauthenticationSchema } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { AccountService } from "../../domain/auth/account-service.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import { HttpError } from "../../lib/errors.js";
import { safeNext } from "../forward-auth/safe-next.js";
import { accountContext } from "../request-context.js";
import { CONFIRM_PATH } from "../step-up.js";
import { check } from "../validate.js";
import { fieldOf, formBody, isRateLimited, rateLimitMessage, send } from "./forms.js";
import { confirmIdentityPage, type Errors } from "./views.js";

/** Only a path on this site: the confirmation never sends the browser elsewhere. */
const backTo = (value: unknown) => safeNext(value, []) ?? "/account";

/**
 * `/account/confirm`: "confirm it is you" before a sensitive action (step-up). A page whose action answers
 * `reauthentication_required` sends the browser here (`askAgain` in http/step-up.ts); after the password
 * it goes back to where it was.
 */
export function createConfirmPages(deps: {
  config: Config;
  accounts: AccountService;
  limits: Pick<ProductRateLimits, "login">;
}): Router {
  const { config, accounts, limits } = deps;
  const router = Router();

  const render = (
    req: Request,
    res: Response,
    status: number,
    extra: { errors?: Errors; alert?: string },
  ) => {
    const user = req.user as Express.User;
    send(res, status, confirmIdentityPage({ email: user.email, next: backTo(req.body?.next), ...extra }));
  };

  router.get(CONFIRM_PATH, (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    send(res, 200, confirmIdentityPage({ email: req.user.email, next: backTo(req.query.next) }));
  });

  router.post(CONFIRM_PATH, formBody(), limits.login, async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    const input = check(reauthenticationSchema, req.body ?? {});
    if (!input.ok) return render(req, res, 400, { errors: input.problems });
    try {
      await accounts.reauthenticate(input.value, accountContext(req, res, config));
    } catch (err) {
      if (isRateLimited(err)) {
        if (err.retryAfter !== undefined) res.setHeader("Retry-After", String(err.retryAfter));
        return render(req, res, 429, { alert: rateLimitMessage(err, "password attempts") });
      }
      const field = err instanceof HttpError ? fieldOf(err) : undefined;
      if (!(err instanceof HttpError) || !field || err.status >= 500) throw err;
      return render(req, res, err.status, { errors: { [field]: err.message } });
    }
    res.redirect(303, backTo(req.body?.next));
  });

  return router;
}
