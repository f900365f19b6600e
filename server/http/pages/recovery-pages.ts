import { Router } from "express";
import { emailOnlySchema, emailTokenSchema, passwordResetSchema } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { AccountRecovery } from "../../domain/auth/account-recovery.js";
import type { EmailChange } from "../../domain/auth/email-change.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import { HttpError } from "../../lib/errors.js";
import { accountContext } from "../request-context.js";
import { check } from "../validate.js";
import { formBody, send, sendWithToken, text } from "./forms.js";
import {
  confirmEmailChangePage,
  forgotPasswordPage,
  invalidLinkPage,
  resetPasswordPage,
  verifyEmailPage,
} from "./views.js";

const isInvalidToken = (err: unknown) => err instanceof HttpError && err.code === "invalid_token";

const RESET_LINK_INVALID = {
  title: "This link does not work",
  message: "This password-reset link is invalid, was already used or has expired.",
  retry: { href: "/password/forgot", label: "Ask for a new link" },
};

const VERIFY_LINK_INVALID = {
  title: "This link does not work",
  message: "This confirmation link is invalid, was already used or has expired.",
  retry: { href: "/login", label: "Log in to ask for a new link" },
};

const EMAIL_CHANGE_LINK_INVALID = {
  title: "This link does not work",
  message:
    "This link to change your email address is invalid, was already used or has expired, or your password changed since it was sent.",
  retry: { href: "/account", label: "Ask for a new link from your account" },
};

/**
 * `/password/forgot`, `/password/reset`, `/email/verify` and `/account/email/confirm`: the pages behind the
 * mailed links.
 */
export function createRecoveryPages(deps: {
  config: Config;
  recovery: AccountRecovery;
  emailChange: EmailChange;
  limits: Pick<ProductRateLimits, "login" | "recovery">;
}): Router {
  const { config, recovery, emailChange, limits } = deps;
  const router = Router();
  const form = formBody();

  router.get("/password/forgot", (req, res) => {
    send(res, 200, forgotPasswordPage({ sent: req.query.sent === "1" }));
  });

  router.post("/password/forgot", form, limits.recovery, async (req, res) => {
    const email = text(req.body?.email);
    const input = check(emailOnlySchema, req.body ?? {});
    if (!input.ok) return send(res, 400, forgotPasswordPage({ email, errors: input.problems }));
    await recovery.forgotPassword(input.value.email);
    res.redirect(303, "/password/forgot?sent=1");
  });

  router.get("/password/reset", async (req, res) => {
    const token = typeof req.query.token === "string" ? req.query.token : "";
    res.setHeader("Referrer-Policy", "no-referrer");
    // Checked without using it: only the form's POST uses the token.
    if (!(await recovery.checkResetToken(token))) return send(res, 400, invalidLinkPage(RESET_LINK_INVALID));
    send(res, 200, resetPasswordPage({ token }));
  });

  router.post("/password/reset", form, limits.login, async (req, res) => {
    const token = text(req.body?.token) ?? "";
    const input = check(passwordResetSchema, req.body ?? {});
    if (!input.ok) {
      if (input.problems.token) return sendWithToken(res, 400, invalidLinkPage(RESET_LINK_INVALID));
      return sendWithToken(res, 400, resetPasswordPage({ token, errors: input.problems }));
    }
    try {
      await recovery.resetPassword(input.value, accountContext(req, res, config).client);
    } catch (err) {
      if (isInvalidToken(err)) return sendWithToken(res, 400, invalidLinkPage(RESET_LINK_INVALID));
      throw err;
    }
    // Every session of the account ended, this browser's too if it was one of them.
    res.redirect(303, "/login?done=reset");
  });

  router.get("/email/verify", (req, res) => {
    const token = typeof req.query.token === "string" ? req.query.token : "";
    if (!token) return sendWithToken(res, 400, invalidLinkPage(VERIFY_LINK_INVALID));
    sendWithToken(res, 200, verifyEmailPage({ token }));
  });

  router.post("/email/verify", form, limits.login, async (req, res) => {
    const input = check(emailTokenSchema, req.body ?? {});
    try {
      if (!input.ok) throw new HttpError("invalid_token");
      await recovery.verifyEmail(input.value.token);
    } catch (err) {
      if (isInvalidToken(err)) return sendWithToken(res, 400, invalidLinkPage(VERIFY_LINK_INVALID));
      throw err;
    }
    res.redirect(303, req.user ? "/account?done=verified" : "/login?done=verified");
  });

  // No sign-in needed: the link may open in another browser. The GET only shows the button.
  router.get("/account/email/confirm", (req, res) => {
    const token = typeof req.query.token === "string" ? req.query.token : "";
    if (!token) return sendWithToken(res, 400, invalidLinkPage(EMAIL_CHANGE_LINK_INVALID));
    sendWithToken(res, 200, confirmEmailChangePage({ token }));
  });

  router.post("/account/email/confirm", form, limits.login, async (req, res) => {
    const input = check(emailTokenSchema, req.body ?? {});
    try {
      if (!input.ok) throw new HttpError("invalid_token");
      await emailChange.confirm(input.value.token);
    } catch (err) {
      if (isInvalidToken(err)) return sendWithToken(res, 400, invalidLinkPage(EMAIL_CHANGE_LINK_INVALID));
      if (err instanceof HttpError && err.code === "email_taken") {
        return sendWithToken(
          res,
          409,
          invalidLinkPage({
            title: "This address is taken",
            message: "Another account uses this address now, so your account keeps its address.",
            retry: { href: "/account", label: "Back to your account" },
          }),
        );
      }
      throw err;
    }
    res.redirect(303, req.user ? "/account?done=email-changed" : "/login?done=email-changed");
  });

  router.post("/email/verify/resend", form, limits.recovery, async (req, res) => {
    if (req.user) {
      await recovery.resendVerification({ userId: req.user.id, email: req.user.email });
      return res.redirect(303, "/account?done=link-sent");
    }
    const input = check(emailOnlySchema, req.body ?? {});
    if (input.ok) await recovery.resendVerification(input.value);
    res.redirect(303, "/login?done=link-sent");
  });

  return router;
}
