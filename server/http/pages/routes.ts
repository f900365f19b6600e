import express, { type ErrorRequestHandler, type Request, type Response, Router } from "express";
import {
  credentialsSchema,
  emailOnlySchema,
  emailTokenSchema,
  passwordChangeSchema,
  passwordResetSchema,
  registrationSchema,
} from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { AccountRecovery } from "../../domain/auth/account-recovery.js";
import type { AccountService } from "../../domain/auth/account-service.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import type { SecurityEvents } from "../../domain/security/events.js";
import { HttpError } from "../../lib/errors.js";
import { FORM_PARAMETER_LIMIT, translateBodyError } from "../body.js";
import { accountContext, sessionPort } from "../request-context.js";
import { publicActivity } from "../routes/activity.js";
import { check } from "../validate.js";
import { ICON, ICON_PATH } from "./icon.js";
import { STYLESHEET, STYLESHEET_PATH } from "./stylesheet.js";
import {
  accountPage,
  type Errors,
  errorPage,
  forgotPasswordPage,
  invalidLinkPage,
  LOGIN_NOTICES,
  loginPage,
  NOTICES,
  registerPage,
  resetPasswordPage,
  verifyEmailPage,
} from "./views.js";

const FORM_BODY_LIMIT = "10kb";
const ONE_YEAR_SECONDS = 365 * 86_400;

/** Paths the pages own: their errors (CSRF refusal, outage) are rendered as HTML for browsers. */
const PAGE_PATH =
  /^\/(login|register|logout|account(\/.*)?|password\/(forgot|reset)|email\/verify(\/resend)?)?$/;

/** Serves the stylesheet and the icon under their content hash, cacheable for a year; mounted before sessions. */
export function createAssetsRouter(): Router {
  const router = Router();
  router.get(STYLESHEET_PATH, (_req, res) => {
    res.setHeader("Content-Type", "text/css; charset=utf-8");
    res.setHeader("Cache-Control", `public, max-age=${ONE_YEAR_SECONDS}, immutable`);
    res.send(STYLESHEET);
  });
  router.get(ICON_PATH, (_req, res) => {
    res.setHeader("Content-Type", "image/svg+xml");
    res.setHeader("Cache-Control", `public, max-age=${ONE_YEAR_SECONDS}, immutable`);
    res.send(ICON);
  });
  return router;
}

const TITLES: Record<number, string> = {
  400: "Bad request",
  403: "Request refused",
  404: "Not found",
  413: "Too large",
  429: "Too many requests",
  503: "Temporarily unavailable",
};

/** An HTML error page for a browser asking for a page; undefined for API calls (they get JSON). */
export function renderHtmlError(err: HttpError, req: Request): string | undefined {
  if (!PAGE_PATH.test(req.path) || req.accepts(["json", "html"]) !== "html") return undefined;
  return errorPage({
    status: err.status,
    title: TITLES[err.status] ?? "Something went wrong",
    message: err.message,
  });
}

/** "30 seconds", "2 minutes": how long a rate-limited person has to wait. */
export function formatWait(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 90) return `${s} ${s === 1 ? "second" : "seconds"}`;
  const m = Math.ceil(s / 60);
  return `${m} minutes`;
}

/** The message for an attempt refused by the rate limiter, with the wait time when it is known. */
function rateLimitMessage(err: HttpError, what: string): string {
  const retryAfter = Number(err.details?.retryAfter);
  return Number.isFinite(retryAfter) && retryAfter > 0
    ? `Too many ${what}. Try again in ${formatWait(retryAfter)}.`
    : `Too many ${what}. Try again later.`;
}

const isRateLimited = (err: unknown): err is HttpError & { status: 429 } =>
  err instanceof HttpError && err.status === 429;

function fieldOf(err: HttpError): string | undefined {
  const field = err.details?.field;
  return typeof field === "string" ? field : undefined;
}

function send(res: Response, status: number, page: string): void {
  res.status(status).type("html").send(page);
}

/** A page whose URL or form carries a single-use token: no link on it may leak the URL to another site. */
function sendWithToken(res: Response, status: number, page: string): void {
  res.setHeader("Referrer-Policy", "no-referrer");
  send(res, status, page);
}

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

/**
 * The browser pages: `/`, `/login`, `/register`, `/account` and the forms they post (URL-encoded,
 * answered with a 303 redirect on success). They call the same account service as the JSON API.
 */
export function createPagesRouter(deps: {
  config: Config;
  accounts: AccountService;
  recovery: AccountRecovery;
  limits: Pick<ProductRateLimits, "login" | "recovery">;
  /** Where `next` may send the browser after login (undefined: nowhere, go to /account). */
  returnTo?: (req: Request, next: unknown) => string | undefined;
  events?: Pick<SecurityEvents, "recent">;
}): Router {
  const { config, accounts, recovery, limits, events } = deps;
  const returnTo = deps.returnTo ?? (() => undefined);
  const router = Router();
  const form = express.urlencoded({
    extended: false,
    limit: FORM_BODY_LIMIT,
    parameterLimit: FORM_PARAMETER_LIMIT,
  });
  const text = (value: unknown) => (typeof value === "string" ? value.trim() : undefined);

  const renderAccount = async (
    req: Request,
    res: Response,
    status: number,
    extra: { errors?: Errors; alert?: string; notice?: string } = {},
  ) => {
    const user = req.user as Express.User;
    const sessions = await accounts.listSessions(sessionPort(req, res, config));
    // The page works without its activity section: a failed read only hides it.
    const activity = await events
      ?.recent(user.id)
      .then((list) => list.map(publicActivity))
      .catch(() => undefined);
    const emailVerified = config.mail.emailVerification === "off" ? undefined : (user.emailVerified ?? false);
    send(res, status, accountPage({ email: user.email, sessions, activity, emailVerified, ...extra }));
  };

  router.get("/", (req, res) => res.redirect(303, req.user ? "/account" : "/login"));

  router.get("/login", (req, res) => {
    const next = returnTo(req, req.query.next);
    if (req.user) return res.redirect(303, next ?? "/account");
    const done = typeof req.query.done === "string" ? req.query.done : undefined;
    send(res, 200, loginPage({ next, notice: done ? LOGIN_NOTICES[done] : undefined }));
  });

  /** A refused login or registration is shown on its own form, with the wait and the email kept. */
  const renderRateLimited = (req: Request, res: Response, err: HttpError) => {
    if (err.retryAfter !== undefined) res.setHeader("Retry-After", String(err.retryAfter));
    const email = text(req.body?.email);
    const path = req.originalUrl.split("?")[0];
    if (path === "/password/forgot") {
      return send(res, 429, forgotPasswordPage({ email, alert: rateLimitMessage(err, "requests") }));
    }
    const page =
      path === "/register"
        ? registerPage({
            email,
            alert: rateLimitMessage(err, "attempts"),
            next: returnTo(req, req.body?.next),
          })
        : loginPage({
            email,
            alert: rateLimitMessage(err, "login attempts"),
            next: returnTo(req, req.body?.next),
          });
    send(res, 429, page);
  };

  router.post("/login", form, limits.login, async (req, res) => {
    const email = text(req.body?.email);
    const next = returnTo(req, req.body?.next);
    const input = check(credentialsSchema, req.body ?? {});
    if (!input.ok) return send(res, 400, loginPage({ email, errors: input.problems, next }));
    try {
      await accounts.login(input.value, accountContext(req, res, config));
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      if (isRateLimited(err)) return renderRateLimited(req, res, err);
      if (err.status === 401) return send(res, 401, loginPage({ email, alert: err.message, next }));
      if (err.code === "email_not_verified") {
        return send(res, 403, loginPage({ email, alert: err.message, next, unverified: true }));
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

  router.get("/account", async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    const done = typeof req.query.done === "string" ? req.query.done : undefined;
    // Only fixed messages: nothing from the query string is echoed.
    await renderAccount(req, res, 200, { notice: done ? NOTICES[done] : undefined });
  });

  router.post("/account/password", form, async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    const input = check(passwordChangeSchema, req.body ?? {});
    if (!input.ok) return renderAccount(req, res, 400, { errors: input.problems });
    try {
      await accounts.changePassword(input.value, accountContext(req, res, config));
    } catch (err) {
      if (isRateLimited(err)) {
        if (err.retryAfter !== undefined) res.setHeader("Retry-After", String(err.retryAfter));
        return renderAccount(req, res, 429, { alert: rateLimitMessage(err, "password attempts") });
      }
      const field = err instanceof HttpError ? fieldOf(err) : undefined;
      if (!(err instanceof HttpError) || !field || err.status >= 500) throw err;
      return renderAccount(req, res, err.status, { errors: { [field]: err.message } });
    }
    res.redirect(303, "/account?done=password");
  });

  router.post("/account/sessions/revoke-others", form, async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    await accounts.revokeOtherSessions(sessionPort(req, res, config));
    res.redirect(303, "/account?done=others");
  });

  router.post("/account/sessions/:id/revoke", form, async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    try {
      await accounts.revokeSession(sessionPort(req, res, config), String(req.params.id));
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) return res.redirect(303, "/account?done=gone");
      throw err;
    }
    // Signing out this very device is a logout.
    res.redirect(303, req.session ? "/account?done=session" : "/login");
  });

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

  router.post("/email/verify/resend", form, limits.recovery, async (req, res) => {
    if (req.user) {
      await recovery.resendVerification({ userId: req.user.id, email: req.user.email });
      return res.redirect(303, "/account?done=link-sent");
    }
    const input = check(emailOnlySchema, req.body ?? {});
    if (input.ok) await recovery.resendVerification(input.value);
    res.redirect(303, "/login?done=link-sent");
  });

  // Refusals by the per-address limiter and bodies the form parser refused (before the handlers) land on
  // the forms too.
  const formErrors: ErrorRequestHandler = (err, req, res, next) => {
    if (isRateLimited(err)) return renderRateLimited(req, res, err);
    const refused = translateBodyError(err);
    if (!refused) return next(err);
    const alert = refused.message;
    send(
      res,
      refused.status,
      req.originalUrl.split("?")[0] === "/register" ? registerPage({ alert }) : loginPage({ alert }),
    );
  };
  router.use(["/login", "/register", "/password/forgot"], formErrors);

  return router;
}
