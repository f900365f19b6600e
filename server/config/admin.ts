import { z } from "zod";
import { secret, type Values } from "./variables.js";

export const ADMIN_VARIABLES = {
  ADMIN_API_KEY: secret(z.string().min(16, "must be at least 16 characters").optional()), // bearer token for the admin endpoints
};

/** Access to the admin endpoints. */
export function adminConfig(v: Values<typeof ADMIN_VARIABLES>) {
  return {
    /** Bearer token for the admin endpoints; unset means they answer 404. */
    adminApiKey: v.ADMIN_API_KEY,
  };
}

export type AdminConfig = ReturnType<typeof adminConfig>;
