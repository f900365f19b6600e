import { z } from "zod";
import { normalizeEmail } from "../../shared/validation.js";
import { nonEmpty, secret, type Values } from "./variables.js";

export const ADMIN_VARIABLES = {
  ADMIN_API_KEY: secret(z.string().min(16, "must be at least 16 characters").optional()), // bearer token for the admin endpoints
  ADMIN_EMAILS: nonEmpty
    .transform((value) =>
      value
        .split(",")
        .map((e) => e.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[^@\s]+@[^@\s]+$/, "must be comma-separated email addresses")))
    .optional(), // existing accounts added to the admin group at start-up
};

/** Access to the admin endpoints. */
export function adminConfig(v: Values<typeof ADMIN_VARIABLES>) {
  return {
    /** Bearer token for the admin endpoints; unset means they answer 404. */
    adminApiKey: v.ADMIN_API_KEY,
    /** Accounts put in `admin` at start-up (the first admin); an address with no account is skipped. */
    adminEmails: (v.ADMIN_EMAILS ?? []).map(normalizeEmail),
  };
}

export type AdminConfig = ReturnType<typeof adminConfig>;
