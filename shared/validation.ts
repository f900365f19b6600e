/**
 * Input rules shared by the API and the HTML pages, so both say the same thing about the same input: one
 * zod schema per request body, each message naming its field.
 */
import { z } from "zod";
import { canonicalEmail } from "./email.js";

export const EMAIL_MAX_LENGTH = 254;
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

// No whitespace and no control characters (PostgreSQL refuses NUL in text).
const EMAIL_SHAPE = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;

/** The error code a refused address answers with (invisible characters, compatibility forms, mixed scripts). */
export const EMAIL_REFUSED = "email_refused";

/**
 * The stored form of an address (shared/email.ts); an address that has none (refused) is only trimmed,
 * NFC-normalised and lower-cased, so looking it up finds no account made since.
 */
export function normalizeEmail(email: string): string {
  const canonical = canonicalEmail(email);
  return canonical.ok ? canonical.email : email.trim().normalize("NFC").toLowerCase();
}

/** Checked, then put in its normal form (NFC, lower case, punycode domain), as it is stored. */
const email = z
  .string({ error: "email must be a string" })
  .trim()
  .min(1, "email is required")
  .max(EMAIL_MAX_LENGTH, `email must be at most ${EMAIL_MAX_LENGTH} characters`)
  .regex(EMAIL_SHAPE, "email must be a valid email address")
  .transform((value, ctx) => {
    const canonical = canonicalEmail(value);
    if (canonical.ok && canonical.email.length <= EMAIL_MAX_LENGTH) return canonical.email;
    ctx.addIssue({
      code: "custom",
      message: canonical.ok ? `email must be at most ${EMAIL_MAX_LENGTH} characters` : canonical.reason,
      params: canonical.ok ? undefined : { errorCode: EMAIL_REFUSED },
    });
    return z.NEVER;
  });

/** A password being set: the length rules apply. */
const newPassword = (field: string) =>
  z
    .string({ error: `${field} must be a string` })
    .min(PASSWORD_MIN_LENGTH, `${field} must be at least ${PASSWORD_MIN_LENGTH} characters`)
    .max(PASSWORD_MAX_LENGTH, `${field} must be at most ${PASSWORD_MAX_LENGTH} characters`);

/** A password being checked: any length the hasher accepts, so older passwords still log in. */
const givenPassword = (field: string) =>
  z
    .string({ error: `${field} is required` })
    .min(1, `${field} is required`)
    .max(PASSWORD_MAX_LENGTH, `${field} must be at most ${PASSWORD_MAX_LENGTH} characters`);

/** `POST /auth/login`, `POST /login`. */
export const credentialsSchema = z.object(
  { email, password: givenPassword("password") },
  { error: "The body must be a JSON object with email and password" },
);

/** `POST /auth/register`, `POST /register`. */
export const registrationSchema = z.object(
  { email, password: newPassword("password") },
  { error: "The body must be a JSON object with email and password" },
);

/** `POST /auth/password`, `POST /account/password`. */
export const passwordChangeSchema = z.object(
  { currentPassword: givenPassword("currentPassword"), newPassword: newPassword("newPassword") },
  { error: "The body must be a JSON object with currentPassword and newPassword" },
);

/** `POST /auth/reauthenticate`, `POST /account/confirm`: the password again, for a sensitive action. */
export const reauthenticationSchema = z.object(
  { password: givenPassword("password") },
  { error: "The body must be a JSON object with password" },
);

const token = z
  .string({ error: "token is required" })
  .min(1, "token is required")
  .max(128, "token must be at most 128 characters");

/** `POST /auth/password/forgot`, `POST /password/forgot`, and an anonymous `POST /auth/email/verify/resend`. */
export const emailOnlySchema = z.object({ email }, { error: "The body must be a JSON object with email" });

/** `POST /auth/password/reset`, `POST /password/reset`. */
export const passwordResetSchema = z.object(
  { token, newPassword: newPassword("newPassword") },
  { error: "The body must be a JSON object with token and newPassword" },
);

/** `POST /auth/email/verify`, `POST /email/verify`. */
export const emailTokenSchema = z.object({ token }, { error: "The body must be a JSON object with token" });

/** `POST /auth/tokens`: a personal access token; scopes are checked against TOKEN_SCOPES by the server. */
export const personalTokenSchema = z.object(
  {
    name: z
      .string({ error: "name is required" })
      .trim()
      .min(1, "name is required")
      .max(100, "name must be at most 100 characters"),
    scopes: z
      .array(z.string({ error: "each scope must be a string" }).max(64, "a scope is at most 64 characters"), {
        error: "scopes must be an array of strings",
      })
      .max(32, "at most 32 scopes"),
    expiresInDays: z
      .number({ error: "expiresInDays must be a number of days" })
      .int("expiresInDays must be a whole number of days")
      .min(1, "expiresInDays must be at least 1"),
    endsWithPassword: z.boolean({ error: "endsWithPassword must be true or false" }).default(true),
  },
  { error: "The body must be a JSON object with name, scopes and expiresInDays" },
);

export type Credentials = z.infer<typeof credentialsSchema>;
export type PasswordReset = z.infer<typeof passwordResetSchema>;
export type PasswordChange = z.infer<typeof passwordChangeSchema>;
export type Reauthentication = z.infer<typeof reauthenticationSchema>;

/** A six-digit code from an authenticator app (spaces ignored, as apps show `123 456`). */
const totpCode = z
  .string({ error: "code must be the 6-digit code from your authenticator app" })
  .transform((s) => s.replace(/\s/g, ""))
  .pipe(z.string().regex(/^\d{6}$/, "code must be the 6-digit code from your authenticator app"));

export const totpConfirmSchema = z.object(
  { code: totpCode },
  { error: "The body must be a JSON object with code" },
);

/**
 * `POST /auth/token`: a client without a browser session gives its second factor (if the account has
 * one) in the same request as the password.
 */
export const tokenLoginSchema = z.object(
  {
    email,
    password: givenPassword("password"),
    code: totpCode.optional(),
    recoveryCode: z.string().min(1).max(40, "recoveryCode is a code like abcde-23456").optional(),
  },
  { error: "The body must be a JSON object with email and password" },
);

/** A passkey's name as its owner calls it ("Work laptop"). */
const passkeyName = z
  .string({ error: "name must be a text of 1 to 64 characters" })
  .trim()
  .min(1, "name must be a text of 1 to 64 characters")
  .max(64, "name must be a text of 1 to 64 characters");

/** What the browser's WebAuthn call answered (checked in full by the server's verification). */
const webauthnResponse = z.looseObject({ id: z.string().min(1).max(1366), type: z.literal("public-key") });

export const passkeyRegistrationSchema = z.object(
  { response: webauthnResponse, name: passkeyName },
  { error: "The body must be a JSON object with response and name" },
);

export const passkeyRenameSchema = z.object(
  { name: passkeyName },
  { error: "The body must be a JSON object with name" },
);

export const passkeyLoginSchema = z.object(
  { response: webauthnResponse },
  { error: "The body must be a JSON object with response" },
);

/** Asks that this browser skip the second factor at later password logins (MFA_TRUSTED_DEVICE_DAYS). */
const trustDevice = z.boolean({ error: "trustDevice must be true or false" }).optional();

/**
 * The second step of a sign-in: a code from the app, one of the recovery codes, or a passkey's assertion
 * (for options from `POST /auth/passkeys/login/options`).
 */
export const secondFactorSchema = z.union(
  [
    z.object({ code: totpCode, trustDevice }),
    z.object({
      recoveryCode: z.string().min(1).max(40, "recoveryCode is a code like abcde-23456"),
      trustDevice,
    }),
    z.object({ passkey: webauthnResponse, trustDevice }),
  ],
  { error: "The body must be a JSON object with code, recoveryCode or passkey" },
);

export type SecondFactorInput = z.infer<typeof secondFactorSchema>;
