import express, { type RequestHandler, type Response } from "express";
import { HttpError } from "../../lib/errors.js";
import { FORM_PARAMETER_LIMIT } from "../body.js";

const FORM_BODY_LIMIT = "10kb";

/** The pages' URL-encoded form bodies: small, and few fields. */
export function formBody(): RequestHandler {
  return express.urlencoded({
    extended: false,
    limit: FORM_BODY_LIMIT,
    parameterLimit: FORM_PARAMETER_LIMIT,
  });
}

/** A form field as typed, trimmed; undefined when it is not a string. */
export const text = (value: unknown) => (typeof value === "string" ? value.trim() : undefined);

/** "30 seconds", "2 minutes": how long a rate-limited person has to wait. */
export function formatWait(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 90) return `${s} ${s === 1 ? "second" : "seconds"}`;
  const m = Math.ceil(s / 60);
  return `${m} minutes`;
}

/** The message for an attempt refused by the rate limiter, with the wait time when it is known. */
export function rateLimitMessage(err: HttpError, what: string): string {
  const retryAfter = Number(err.details?.retryAfter);
  return Number.isFinite(retryAfter) && retryAfter > 0
    ? `Too many ${what}. Try again in ${formatWait(retryAfter)}.`
    : `Too many ${what}. Try again later.`;
}

export const isRateLimited = (err: unknown): err is HttpError & { status: 429 } =>
  err instanceof HttpError && err.status === 429;

/** The form field a catalog error is about (its `details.field`), if any. */
export function fieldOf(err: HttpError): string | undefined {
  const field = err.details?.field;
  return typeof field === "string" ? field : undefined;
}

export function send(res: Response, status: number, page: string): void {
  res.status(status).type("html").send(page);
}

/** A page whose URL or form carries a single-use token: no link on it may leak the URL to another site. */
export function sendWithToken(res: Response, status: number, page: string): void {
  res.setHeader("Referrer-Policy", "no-referrer");
  send(res, status, page);
}
