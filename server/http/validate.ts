import type { z } from "zod";
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

/** The parsed body, or the API's `400 invalid_request` naming the first field with a problem. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const checked = check(schema, body);
  if (checked.ok) return checked.value;
  const [field, message] = Object.entries(checked.problems)[0] as [string, string];
  throw new HttpError("invalid_request", { message, details: { field } });
}
