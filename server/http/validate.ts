import type { z } from "zod";
import { EMAIL_REFUSED } from "../../shared/validation.js";
import { HttpError } from "../lib/errors.js";

/** The first message for each field; `body` when the body as a whole has the wrong shape. */
export type FieldProblems = Partial<Record<string, string>>;

export type Checked<T> = { ok: true; value: T } | { ok: false; problems: FieldProblems };

/** Every field's first problem, for a form shown again with each message next to its field. */
export function check<S extends z.ZodType>(schema: S, body: unknown): Checked<z.output<S>> {
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, value: result.data };
  const problems: FieldProblems = {};
  for (const issue of result.error.issues) {
    const field = issue.path.length > 0 ? String(issue.path[0]) : "body";
    problems[field] ??= issue.message;
  }
  return { ok: false, problems };
}

/**
 * The parsed body, or the API's `400 invalid_request` naming the first field with a problem (or the
 * more precise code a check names, e.g. `email_refused`).
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  const field = issue.path.length > 0 ? String(issue.path[0]) : "body";
  const params = issue.code === "custom" ? (issue.params as { errorCode?: unknown } | undefined) : undefined;
  const code = params?.errorCode === EMAIL_REFUSED ? EMAIL_REFUSED : "invalid_request";
  throw new HttpError(code, { message: issue.message, details: { field } });
}
