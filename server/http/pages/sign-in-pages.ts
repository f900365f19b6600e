import { Router } from "express";
import { credentialsSchema, registrationSchema } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { AccountService } from "../../domain/auth/account-service.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import { HttpError } from "../../lib/errors.js";
import { accountContext, saveSession, sessionPort } from "../request-context.js";
import { check } from "../validate.js";
import { type ReturnTo, renderRateLimited } from "./form-errors.js";
import { formBody, isRateLimited, send, text } from "./forms.js";
import { SECOND_FACTOR_PATH } from "./mfa-pages.js";
import { LOGIN_NOTICES, loginPage, registerPage } from "./views.js";

/** `/`, `/login`, `/register` and `/logout`: a form in, a 303 to `next` or the account page out. */
export function createSignInPages(deps: {
  config: Config;
  accounts: AccountService;
  limits: Pick<ProductRateLimits, "login" | "signIn">;
  returnTo: ReturnTo;
}): Router {
  const { config, accounts, limits, returnTo } = deps;
  const router = Router();
  const passkeys = config.mfa.mode !== "off";
  const form = formBody();
  const providers = config.oidc.names;

  router.get("/", (req, res) => res.redirect(303, req.user ? "/account" : "/login"));

  router.get("/login", (req, res) => {
    const next = returnTo(req, req.query.next);
    if (req.user) return res.redirect(303, next ?? "/account");
    const done = typeof req.query.done === "string" ? req.query.done : undefined;
    send(
      res,
      200,
      loginPage({ next, notice: done ? LOGIN_NOTICES.get(done) : undefined, providers, passkeys }),
    );
  });

  router.post("/login", form, limits.signIn, async (req, res) => {
    const email = text(req.body?.email);
    const next = returnTo(req, req.body?.next);
    const input = check(credentialsSchema, req.body ?? {});
    if (!input.ok)
      return send(res, 400, loginPage({ email, errors: input.problems, next, providers, passkeys }));
    try {
      const outcome = await accounts.login(input.value, accountContext(req, res, config));
      if (outcome.mfaRequired) {
        // The pending sign-in stored before the browser follows the redirect to the second step.
        await saveSession(req);
        return res.redirect(
          303,
          next ? `${SECOND_FACTOR_PATH}?next=${encodeURIComponent(next)}` : SECOND_FACTOR_PATH,
        );
      }
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      if (isRateLimited(err)) return renderRateLimited(req, res, err, returnTo);
      if (err.status === 401)
        return send(res, 401, loginPage({ email, alert: err.message, next, providers, passkeys }));
      if (err.code === "account_disabled")
        return send(res, 403, loginPage({ email, alert: err.message, next, providers, passkeys }));
      if (err.code === "email_not_verified") {
        return send(res, 403, loginPage({ email, alert: err.message, next, unverified: true, passkeys }));
      }
      throw err;
    }
    res.redirect(303, next ?? "/account");
  });

  router.get("/register", (req, res) => {
    const next = returnTo(req, req.query.next);
    if (req.user) return res.redirect(303, next ?? "/account");
    send(res, 200, registerPage({ next }));
  });

  router.post("/register", form, limits.login, async (req, res) => {
    const email = text(req.body?.email);
    const next = returnTo(req, req.body?.next);
    const input = check(registrationSchema, req.body ?? {});
    if (!input.ok) return send(res, 400, registerPage({ email, errors: input.problems, next }));
    try {
      const user = await accounts.register(input.value, accountContext(req, res, config));
      if (!user) return res.redirect(303, "/login?done=check-inbox");
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      if (err.code === "email_taken")
        return send(res, 409, registerPage({ email, errors: { email: err.message }, next }));
      throw err;
    }
    res.redirect(303, next ?? "/account");
  });

  router.post("/logout", form, async (req, res) => {
    await accounts.logout(sessionPort(req, res, config));
    res.redirect(303, "/login");
  });

  return router;
}
