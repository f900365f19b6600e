import type { ErrorRequestHandler, Request, Response } from "express";
import type { HttpError } from "../../lib/errors.js";
import { translateBodyError } from "../body.js";
import { isRateLimited, rateLimitMessage, send, text } from "./forms.js";
import { forgotPasswordPage, loginPage, registerPage } from "./views.js";

/** Where `next` may send the browser after login (undefined: nowhere, go to /account). */
export type ReturnTo = (req: Request, next: unknown) => string | undefined;

/** A refused login or registration is shown on its own form, with the wait and the email kept. */
export function renderRateLimited(req: Request, res: Response, err: HttpError, returnTo: ReturnTo): void {
  if (err.retryAfter !== undefined) res.setHeader("Retry-After", String(err.retryAfter));
  const email = text(req.body?.email);
  const path = req.originalUrl.split("?")[0];
  if (path === "/password/forgot") {
    send(res, 429, forgotPasswordPage({ email, alert: rateLimitMessage(err, "requests") }));
    return;
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
}

/**
 * Refusals by the per-address limiter and bodies the form parser refused (before the handlers) land on
 * the forms too. Mount on `/login`, `/register` and `/password/forgot`.
 */
export function formErrors(returnTo: ReturnTo): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (isRateLimited(err)) return renderRateLimited(req, res, err, returnTo);
    const refused = translateBodyError(err);
    if (!refused) return next(err);
    const alert = refused.message;
    send(
      res,
      refused.status,
      req.originalUrl.split("?")[0] === "/register" ? registerPage({ alert }) : loginPage({ alert }),
    );
  };
}
