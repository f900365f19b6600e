import type { Request } from "express";
import type { HttpError } from "../../lib/errors.js";
import { errorPage } from "./views.js";

/** Paths the pages own: their errors (CSRF refusal, outage) are rendered as HTML for browsers. */
const PAGE_PATH =
  /^\/(login|register|logout|account(\/.*)?|password\/(forgot|reset)|email\/verify(\/resend)?|auth\/oauth\/[^/]+(\/callback|\/link)?)?$/;

const TITLES: Record<number, string> = {
  400: "Bad request",
  403: "Request refused",
  404: "Not found",
  409: "Cannot continue",
  413: "Too large",
  429: "Too many requests",
  502: "The provider's answer was refused",
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
