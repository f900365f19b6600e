/** Input rules shared by the API and the HTML pages, so both say the same thing about the same input. */

export const EMAIL_MAX_LENGTH = 254;
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

// No whitespace and no control characters (PostgreSQL refuses NUL in text).
const EMAIL_SHAPE = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Returns a message for the field, or undefined when the value is acceptable. */
export function emailProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return "email must be a string";
  const email = normalizeEmail(value);
  if (email.length === 0) return "email is required";
  if (email.length > EMAIL_MAX_LENGTH) return `email must be at most ${EMAIL_MAX_LENGTH} characters`;
  if (!EMAIL_SHAPE.test(email)) return "email must be a valid email address";
  return undefined;
}

export function passwordProblem(value: unknown, field = "password"): string | undefined {
  if (typeof value !== "string") return `${field} must be a string`;
  if (value.length < PASSWORD_MIN_LENGTH)
    return `${field} must be at least ${PASSWORD_MIN_LENGTH} characters`;
  if (value.length > PASSWORD_MAX_LENGTH) return `${field} must be at most ${PASSWORD_MAX_LENGTH} characters`;
  return undefined;
}
