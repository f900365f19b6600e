/**
 * Every JSON route, described once: method, path, the zod schema the route parses its body (or query)
 * with, what it answers, its error codes and who may call it. The OpenAPI document (document.ts) is built
 * from this list, and tests/http/openapi-conformance.test.ts fails on a route the app mounts that is missing
 * here. HTML pages (the forms and the admin console) are not in it: see docs/reference/http-api.md#openapi.
 */
import type { z } from "zod";
import {
  credentialsSchema,
  emailOnlySchema,
  emailTokenSchema,
  passkeyLoginSchema,
  passkeyRegistrationSchema,
  passkeyRenameSchema,
  passwordChangeSchema,
  passwordResetSchema,
  personalTokenSchema,
  reauthenticationSchema,
  registrationSchema,
  secondFactorSchema,
  tokenLoginSchema,
  totpConfirmSchema,
} from "../../../shared/validation.js";
import type { ErrorCode } from "../../lib/error-catalog.js";
import { deleteSchema, groupSchema, searchSchema } from "../admin/api-routes.js";
import { invalidateSchema } from "../routes/cache-admin.js";
import { codeRequestSchema, tokenRequestSchema } from "../routes/device.js";
import * as answers from "./answers.js";

/**
 * Who may call: `none` anyone; `session` a signed-in session (cookie or `rss_sess_` bearer);
 * `session-or-token` also a personal access token (with `scope` when set); `admin` an admin session, an
 * admin-scoped token or the admin key; `admin-key` the `ADMIN_API_KEY` bearer only; `optional` anyone,
 * answering more to a signed-in session; `optional-key` anyone, answering more with the admin key.
 */
export type Auth =
  | "none"
  | "session"
  | "session-or-token"
  | "admin"
  | "admin-key"
  | "optional"
  | "optional-key";

/** A success answer: a JSON body, another media type, or none (`null`: 204, a redirect, or headers only). */
export type Answer = z.ZodType | { type: string; schema: z.ZodType } | null;

export interface Operation {
  method: "get" | "post" | "patch" | "delete";
  /** Express form, `/auth/sessions/:id`. */
  path: string;
  tag: string;
  summary: string;
  auth: Auth;
  scope?: string;
  /** The schema the route parses its JSON body with (parseBody). */
  body?: z.ZodType;
  /** The route takes a JSON body, with no fields of its own. */
  emptyBody?: boolean;
  /** `body` may be left out (a signed-in caller sends none). */
  bodyOptional?: boolean;
  /** The schema the route parses its query with. */
  query?: z.ZodObject;
  /** Query parameters the route reads without a schema of its own: name and description. */
  queryParams?: Record<string, string>;
  /** Before the session stack: no session, no CSRF check, no global rate limit. */
  probe?: boolean;
  responses: Record<number, Answer>;
  /** The codes this route itself answers; those every route of its kind may answer are added (document.ts). */
  errors: ErrorCode[];
  /** Error answers that are not the `Error` schema (RFC 8628's shape). */
  otherErrors?: Record<number, z.ZodType>;
}

type Spec = Omit<Operation, "method" | "path">;

function op(route: string, spec: Spec): Operation {
  const [method, path] = route.split(" ") as [string, string];
  return { method: method.toLowerCase() as Operation["method"], path, ...spec };
}

const NO_BODY = null;
const REDIRECT = null;

const AUTH = "Sign-in and account";
const SESSIONS = "Sessions and password";
const DEVICE = "Device sign-in";
const TOKENS = "Personal access tokens";
const PROVIDERS = "Sign-in with a provider";
const MFA = "Second factors";
const DATA = "Your data";
const ADMIN = "Admin API";
const TEAM = "Your API";
const OPS = "Operators and probes";

export const OPERATIONS: readonly Operation[] = [
  op("POST /auth/register", {
    tag: AUTH,
    summary: "Create an account and sign in (or, with EMAIL_VERIFICATION=required, mail a link)",
    auth: "none",
    body: registrationSchema,
    responses: { 201: answers.signedIn, 202: answers.accepted },
    errors: ["invalid_request", "email_refused", "email_taken", "busy"],
  }),
  op("POST /auth/login", {
    tag: AUTH,
    summary: "Sign in with email and password (a new session cookie)",
    auth: "none",
    body: credentialsSchema,
    responses: { 200: answers.signedIn.or(answers.mfaRequired) },
    errors: [
      "invalid_request",
      "email_refused",
      "invalid_credentials",
      "email_not_verified",
      "account_disabled",
      "busy",
    ],
  }),
  op("POST /auth/logout", {
    tag: AUTH,
    summary: "End this session",
    auth: "optional",
    responses: { 204: NO_BODY },
    errors: [],
  }),
  op("POST /auth/token", {
    tag: AUTH,
    summary: "Sign in without a cookie jar: a bearer session token",
    auth: "none",
    body: tokenLoginSchema,
    responses: { 200: answers.bearerToken },
    errors: [
      "invalid_request",
      "email_refused",
      "invalid_credentials",
      "email_not_verified",
      "account_disabled",
      "mfa_required",
      "invalid_mfa_code",
      "busy",
    ],
  }),
  op("DELETE /auth/token", {
    tag: AUTH,
    summary: "End the bearer session sending it",
    auth: "session",
    responses: { 204: NO_BODY },
    errors: ["unauthenticated"],
  }),
  op("GET /auth/me", {
    tag: AUTH,
    summary: "The signed-in user",
    auth: "session-or-token",
    responses: { 200: answers.me },
    errors: ["unauthenticated"],
  }),
  op("POST /auth/password/forgot", {
    tag: AUTH,
    summary: "Mail a password reset link (the same answer for every address)",
    auth: "none",
    body: emailOnlySchema,
    responses: { 202: answers.accepted },
    errors: ["invalid_request", "email_refused"],
  }),
  op("POST /auth/password/reset", {
    tag: AUTH,
    summary: "Set a new password with the mailed token",
    auth: "none",
    body: passwordResetSchema,
    responses: { 204: NO_BODY },
    errors: ["invalid_request", "invalid_token", "busy"],
  }),
  op("POST /auth/email/verify", {
    tag: AUTH,
    summary: "Confirm the address with the mailed token",
    auth: "none",
    body: emailTokenSchema,
    responses: { 204: NO_BODY },
    errors: ["invalid_request", "invalid_token"],
  }),
  op("POST /auth/email/verify/resend", {
    tag: AUTH,
    summary: "Mail the verification link again (the signed-in user's, or the body's address)",
    auth: "optional",
    body: emailOnlySchema,
    bodyOptional: true,
    responses: { 202: answers.accepted },
    errors: ["invalid_request", "email_refused"],
  }),
  op("POST /auth/email", {
    tag: AUTH,
    summary:
      "Move the account to another address (needs a recent authentication): a link goes to the new address, the same answer whether or not it has an account",
    auth: "session",
    body: emailOnlySchema,
    responses: { 202: answers.accepted },
    errors: ["unauthenticated", "invalid_request", "email_refused", "reauthentication_required"],
  }),
  op("POST /auth/email/change", {
    tag: AUTH,
    summary: "Use the mailed token: the account takes the new address, verified",
    auth: "none",
    body: emailTokenSchema,
    responses: { 204: NO_BODY },
    errors: ["invalid_request", "invalid_token", "email_taken"],
  }),
  op("GET /auth/verify", {
    tag: AUTH,
    summary: "Forward auth: 200 with identity headers for a reverse proxy",
    auth: "session-or-token",
    responses: { 200: NO_BODY },
    errors: ["unauthenticated", "forbidden", "second_factor_required", "ambiguous_url"],
  }),
  op("GET /auth/activity", {
    tag: AUTH,
    summary: "The signed-in user's recent security events, newest first",
    auth: "session",
    responses: { 200: answers.activity },
    errors: ["unauthenticated"],
  }),

  op("GET /auth/sessions", {
    tag: SESSIONS,
    summary: "The signed-in user's sessions, this one first",
    auth: "session",
    responses: { 200: answers.sessions },
    errors: ["unauthenticated"],
  }),
  op("DELETE /auth/sessions/:id", {
    tag: SESSIONS,
    summary: "End one of the user's sessions",
    auth: "session",
    responses: { 204: NO_BODY },
    errors: ["unauthenticated", "not_found"],
  }),
  op("POST /auth/sessions/revoke-others", {
    tag: SESSIONS,
    summary: "End every other session of the user",
    auth: "session",
    emptyBody: true,
    responses: { 204: NO_BODY },
    errors: ["unauthenticated"],
  }),
  op("POST /auth/reauthenticate", {
    tag: SESSIONS,
    summary: "Give the password again on this session (step-up)",
    auth: "session",
    body: reauthenticationSchema,
    responses: { 204: NO_BODY },
    errors: ["unauthenticated", "invalid_request", "wrong_password", "busy"],
  }),
  op("POST /auth/password", {
    tag: SESSIONS,
    summary: "Change the password; every other session ends",
    auth: "session",
    body: passwordChangeSchema,
    responses: { 204: NO_BODY },
    errors: ["unauthenticated", "invalid_request", "wrong_password", "busy"],
  }),

  op("POST /auth/device/code", {
    tag: DEVICE,
    summary: "Start a device sign-in (RFC 8628)",
    auth: "none",
    body: codeRequestSchema,
    responses: { 200: answers.deviceCode },
    errors: ["invalid_request"],
  }),
  op("POST /auth/device/token", {
    tag: DEVICE,
    summary: "Poll a device sign-in: a bearer session once approved",
    auth: "none",
    body: tokenRequestSchema,
    responses: { 200: answers.deviceToken },
    errors: ["invalid_request"],
    otherErrors: { 400: answers.deviceError },
  }),

  op("POST /auth/tokens", {
    tag: TOKENS,
    summary: "Create a personal access token (needs a recent authentication)",
    auth: "session",
    body: personalTokenSchema,
    responses: { 201: answers.tokenCreated },
    errors: ["unauthenticated", "invalid_request", "reauthentication_required", "too_many_tokens"],
  }),
  op("GET /auth/tokens", {
    tag: TOKENS,
    summary: "The user's unexpired personal access tokens, newest first",
    auth: "session",
    responses: { 200: answers.tokens },
    errors: ["unauthenticated"],
  }),
  op("DELETE /auth/tokens/:id", {
    tag: TOKENS,
    summary: "Revoke a personal access token",
    auth: "session",
    responses: { 204: NO_BODY },
    errors: ["unauthenticated", "not_found"],
  }),

  op("GET /auth/oauth/:provider", {
    tag: PROVIDERS,
    summary: "Redirect to the provider to sign in",
    auth: "none",
    queryParams: { next: "Where to go once signed in (a path on this site, or an allowed origin)" },
    responses: { 302: REDIRECT },
    errors: ["oauth_unknown_provider", "oauth_provider_unavailable", "oauth_provider_error"],
  }),
  op("POST /auth/oauth/:provider/link", {
    tag: PROVIDERS,
    summary: "Redirect to the provider to link an account there (a form post from the account page)",
    auth: "session",
    responses: { 303: REDIRECT },
    errors: [
      "unauthenticated",
      "oauth_unknown_provider",
      "oauth_provider_unavailable",
      "oauth_provider_error",
      "too_many_fields",
    ],
  }),
  op("GET /auth/oauth/:provider/callback", {
    tag: PROVIDERS,
    summary: "Where the provider sends the browser back",
    auth: "none",
    queryParams: { code: "From the provider", state: "From the provider", error: "From the provider" },
    responses: { 200: answers.mfaRequired, 302: REDIRECT },
    errors: [
      "oauth_unknown_provider",
      "oauth_flow_expired",
      "oauth_state_mismatch",
      "oauth_denied",
      "oauth_email_unverified",
      "oauth_link_required",
      "identity_taken",
      "oauth_provider_error",
      "oauth_provider_unavailable",
    ],
  }),
  op("GET /auth/identities", {
    tag: PROVIDERS,
    summary: "The user's linked provider accounts",
    auth: "session",
    responses: { 200: answers.identities },
    errors: ["unauthenticated"],
  }),
  op("DELETE /auth/identities/:provider/:subject", {
    tag: PROVIDERS,
    summary: "Unlink a provider account",
    auth: "session",
    responses: { 204: NO_BODY },
    errors: ["unauthenticated", "not_found", "last_sign_in_method"],
  }),

  op("GET /auth/mfa", {
    tag: MFA,
    summary: "The user's second factors",
    auth: "session",
    responses: { 200: answers.mfaStatus },
    errors: ["unauthenticated"],
  }),
  op("POST /auth/mfa/totp/setup", {
    tag: MFA,
    summary: "A new authenticator app secret, off until confirmed (step-up)",
    auth: "session",
    responses: { 200: answers.totpSetup },
    errors: ["unauthenticated", "reauthentication_required", "mfa_already_enabled"],
  }),
  op("POST /auth/mfa/totp/confirm", {
    tag: MFA,
    summary: "Confirm the authenticator app with a first code: recovery codes, shown once (step-up)",
    auth: "session",
    body: totpConfirmSchema,
    responses: { 200: answers.recoveryCodes },
    errors: [
      "unauthenticated",
      "invalid_request",
      "reauthentication_required",
      "invalid_mfa_code",
      "mfa_not_enabled",
      "mfa_already_enabled",
    ],
  }),
  op("DELETE /auth/mfa/totp", {
    tag: MFA,
    summary: "Turn the authenticator app off (step-up)",
    auth: "session",
    responses: { 204: NO_BODY },
    errors: ["unauthenticated", "reauthentication_required", "mfa_not_enabled", "last_sign_in_method"],
  }),
  op("POST /auth/mfa/recovery-codes", {
    tag: MFA,
    summary: "New recovery codes; the old ones stop working (step-up)",
    auth: "session",
    responses: { 200: answers.recoveryCodes },
    errors: ["unauthenticated", "reauthentication_required", "mfa_not_enabled"],
  }),
  op("POST /auth/mfa/verify", {
    tag: MFA,
    summary: "The second step of a sign-in, or a step-up on a signed-in session",
    auth: "optional",
    body: secondFactorSchema,
    responses: { 200: answers.signedIn },
    errors: ["unauthenticated", "invalid_request", "invalid_mfa_code"],
  }),
  op("POST /auth/passkeys/register/options", {
    tag: MFA,
    summary: "WebAuthn creation options (step-up)",
    auth: "session",
    responses: { 200: answers.webauthnOptions },
    errors: ["unauthenticated", "reauthentication_required"],
  }),
  op("POST /auth/passkeys/register", {
    tag: MFA,
    summary: "Register a passkey from navigator.credentials.create's answer (step-up)",
    auth: "session",
    body: passkeyRegistrationSchema,
    responses: { 201: answers.passkeyCreated },
    errors: ["unauthenticated", "invalid_request", "passkey_refused", "reauthentication_required"],
  }),
  op("GET /auth/passkeys", {
    tag: MFA,
    summary: "The user's passkeys, oldest first",
    auth: "session",
    responses: { 200: answers.passkeys },
    errors: ["unauthenticated"],
  }),
  op("PATCH /auth/passkeys/:id", {
    tag: MFA,
    summary: "Rename a passkey",
    auth: "session",
    body: passkeyRenameSchema,
    responses: { 204: NO_BODY },
    errors: ["unauthenticated", "invalid_request", "not_found"],
  }),
  op("DELETE /auth/passkeys/:id", {
    tag: MFA,
    summary: "Remove a passkey (step-up)",
    auth: "session",
    responses: { 204: NO_BODY },
    errors: ["unauthenticated", "reauthentication_required", "not_found", "last_sign_in_method"],
  }),
  op("POST /auth/passkeys/login/options", {
    tag: MFA,
    summary: "WebAuthn request options for a passkey sign-in",
    auth: "none",
    responses: { 200: answers.webauthnOptions },
    errors: [],
  }),
  op("POST /auth/passkeys/login", {
    tag: MFA,
    summary: "Sign in with a passkey (or complete a pending sign-in)",
    auth: "none",
    body: passkeyLoginSchema,
    responses: { 200: answers.signedIn.or(answers.mfaRequired) },
    errors: ["invalid_request", "passkey_refused", "email_not_verified", "account_disabled"],
  }),

  op("GET /auth/account/export", {
    tag: DATA,
    summary: "Download everything the server holds about the user",
    auth: "session",
    responses: { 200: answers.accountExport },
    errors: ["unauthenticated"],
  }),
  op("DELETE /auth/account", {
    tag: DATA,
    summary: "Delete the account (step-up); every session ends",
    auth: "session",
    responses: { 200: answers.sessionsEnded },
    errors: ["unauthenticated", "reauthentication_required", "last_admin"],
  }),

  op("GET /admin/api/users", {
    tag: ADMIN,
    summary: "Search users by address",
    auth: "admin",
    query: searchSchema,
    responses: { 200: answers.adminUsers },
    errors: ["invalid_request"],
  }),
  op("GET /admin/api/users/:id", {
    tag: ADMIN,
    summary: "A user with their sessions, events, identities and second factors",
    auth: "admin",
    responses: { 200: answers.adminUserDetail },
    errors: ["not_found"],
  }),
  op("POST /admin/api/users/:id/disable", {
    tag: ADMIN,
    summary: "Refuse the user's logins and end their sessions",
    auth: "admin",
    responses: { 200: answers.sessionsEnded },
    errors: ["not_found", "last_admin"],
  }),
  op("POST /admin/api/users/:id/enable", {
    tag: ADMIN,
    summary: "Let a disabled user sign in again",
    auth: "admin",
    responses: { 204: NO_BODY },
    errors: ["not_found"],
  }),
  op("POST /admin/api/users/:id/sessions/revoke", {
    tag: ADMIN,
    summary: "End every session of the user",
    auth: "admin",
    responses: { 200: answers.sessionsEnded },
    errors: ["not_found"],
  }),
  op("DELETE /admin/api/users/:id/sessions/:sessionId", {
    tag: ADMIN,
    summary: "End one session of the user",
    auth: "admin",
    responses: { 204: NO_BODY },
    errors: ["not_found"],
  }),
  op("POST /admin/api/users/:id/password-reset", {
    tag: ADMIN,
    summary: "Mail the user a password reset link",
    auth: "admin",
    responses: { 202: answers.queued },
    errors: ["not_found", "invalid_request"],
  }),
  op("POST /admin/api/users/:id/verification", {
    tag: ADMIN,
    summary: "Mail the user the verification link again",
    auth: "admin",
    responses: { 202: answers.queued },
    errors: ["not_found"],
  }),
  op("POST /admin/api/users/:id/second-factors/reset", {
    tag: ADMIN,
    summary: "Remove the user's authenticator app, recovery codes and passkeys",
    auth: "admin",
    responses: { 200: answers.factorsRemoved },
    errors: ["not_found"],
  }),
  op("POST /admin/api/users/:id/groups", {
    tag: ADMIN,
    summary: "Add the user to a group",
    auth: "admin",
    body: groupSchema,
    responses: { 204: NO_BODY },
    errors: ["invalid_request", "not_found"],
  }),
  op("DELETE /admin/api/users/:id/groups/:name", {
    tag: ADMIN,
    summary: "Remove the user from a group",
    auth: "admin",
    responses: { 204: NO_BODY },
    errors: ["not_found", "last_admin"],
  }),
  op("DELETE /admin/api/users/:id", {
    tag: ADMIN,
    summary: "Delete the user's account (confirm with its address)",
    auth: "admin",
    body: deleteSchema,
    responses: { 200: answers.sessionsEnded },
    errors: ["invalid_request", "not_found", "last_admin"],
  }),

  op("GET /api/models", {
    tag: TEAM,
    summary: "OpenAI's model list, cached (header X-Cache)",
    auth: "session-or-token",
    responses: { 200: answers.models },
    errors: ["unauthenticated", "not_configured", "upstream_error"],
  }),
  op("GET /api/echo-profile", {
    tag: TEAM,
    summary: "The worked example of a team route: the user's profile, cached (header X-Cache)",
    auth: "session-or-token",
    scope: "profile:read",
    responses: { 200: answers.profile },
    errors: ["unauthenticated", "insufficient_scope", "not_found"],
  }),

  op("GET /health/live", {
    tag: OPS,
    summary: "Liveness: never touches a dependency",
    auth: "none",
    probe: true,
    responses: { 200: answers.live },
    errors: [],
  }),
  op("GET /health/ready", {
    tag: OPS,
    summary: "Readiness: 503 while a dependency fails or the process shuts down",
    auth: "none",
    probe: true,
    responses: { 200: answers.ready, 503: answers.ready },
    errors: [],
  }),
  op("GET /health/redis", {
    tag: OPS,
    summary: "Redis status and latency (details with the admin key or HEALTH_DETAILS=public)",
    auth: "optional-key",
    probe: true,
    responses: { 200: answers.healthReport, 503: answers.healthReport },
    errors: [],
  }),
  op("GET /health/complete", {
    tag: OPS,
    summary: "Every dependency check (details with the admin key or HEALTH_DETAILS=public)",
    auth: "optional-key",
    probe: true,
    responses: { 200: answers.healthReport, 503: answers.healthReport },
    errors: [],
  }),
  op("GET /health", {
    tag: OPS,
    summary: "The same as /health/complete",
    auth: "optional-key",
    probe: true,
    responses: { 200: answers.healthReport, 503: answers.healthReport },
    errors: [],
  }),
  op("GET /metrics", {
    tag: OPS,
    summary: "Prometheus metrics (public with METRICS_PUBLIC=true)",
    auth: "admin-key",
    probe: true,
    responses: { 200: { type: "text/plain", schema: answers.prometheusText } },
    errors: [],
  }),
  op("GET /metrics/redis", {
    tag: OPS,
    summary: "Redis figures from INFO",
    auth: "admin-key",
    probe: true,
    responses: { 200: answers.healthReport, 503: answers.healthReport },
    errors: [],
  }),
  op("GET /api/cache/metrics", {
    tag: OPS,
    summary: "Cache figures",
    auth: "admin-key",
    responses: { 200: answers.cacheMetrics },
    errors: [],
  }),
  op("GET /api/cache/invalidate", {
    tag: OPS,
    summary: "Cache figures, for dashboards that read them here (?metrics=true)",
    auth: "admin-key",
    queryParams: { metrics: "Must be `true`" },
    responses: { 200: answers.cacheMetrics },
    errors: ["invalid_request"],
  }),
  op("POST /api/cache/invalidate", {
    tag: OPS,
    summary: "Invalidate one cache category, or all",
    auth: "admin-key",
    body: invalidateSchema,
    responses: { 200: answers.invalidated },
    errors: ["invalid_request"],
  }),
  op("GET /openapi.json", {
    tag: OPS,
    summary: "This document",
    auth: "none",
    probe: true,
    responses: { 200: { type: "application/json", schema: answers.openApiDocument } },
    errors: [],
  }),
];
