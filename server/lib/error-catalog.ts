/**
 * Every error code the server answers with, in one place: its HTTP status, its default message (safe to
 * show) and, for a transient refusal, the `Retry-After` it carries. Errors are built from it
 * (`new HttpError(code)`); docs/reference/errors.md lists exactly these codes
 * (tests/lib/error-catalog.test.ts).
 */

export interface ErrorEntry {
  status: number;
  message: string;
  /** Seconds a client should wait before retrying; only on refusals that pass by themselves. */
  retryAfter?: number;
}

/** Seconds a client is told to wait after a dependency outage or a full queue. */
const TRANSIENT_RETRY_AFTER = 5;

export const ERROR_CATALOG = {
  invalid_request: { status: 400, message: "The request is invalid" },
  invalid_json: { status: 400, message: "The request body is not valid JSON" },
  invalid_encoding: {
    status: 400,
    message: "The request body does not decode as its Content-Encoding says",
  },
  invalid_path: { status: 400, message: "The URL contains a malformed %-escape" },
  email_refused: {
    status: 400,
    message:
      "This email address cannot be used: it contains invisible characters, fullwidth or other compatibility letters, or a domain mixing scripts",
  },
  invalid_body: { status: 400, message: "The request body could not be read" },
  request_aborted: { status: 400, message: "The request body was not received completely" },
  invalid_token: {
    status: 400,
    message: "This link is invalid, was already used or has expired; ask for a new one",
  },
  token_in_query: {
    status: 400,
    message: "Send the token in the Authorization header; a token in the URL is refused",
  },
  credentials_conflict: {
    status: 400,
    message: "Send either a session cookie or an Authorization header, not both",
  },
  // RFC 8628 section 3.5, answered by POST /auth/device/token as {"error": code}.
  authorization_pending: {
    status: 400,
    message: "The owner has not approved this device yet; poll again after the interval",
  },
  slow_down: { status: 400, message: "Polling too fast; wait 5 more seconds between polls" },
  access_denied: { status: 400, message: "The owner denied this sign-in" },
  expired_token: {
    status: 400,
    message: "This device code has expired or was already used; start the sign-in again",
  },
  oauth_flow_expired: {
    status: 400,
    message: "This sign-in expired or was already completed; start again from the sign-in page",
  },
  oauth_state_mismatch: {
    status: 400,
    message: "This sign-in did not start in this browser; start again from the sign-in page",
  },
  unauthenticated: { status: 401, message: "Log in to use this endpoint" },
  invalid_credentials: { status: 401, message: "Email or password is incorrect" },
  invalid_authorization: {
    status: 401,
    message: "The Authorization header must be `Bearer <token>` with a token this server issued",
  },
  unauthorized: { status: 401, message: "A valid admin bearer token is required" },
  passkey_refused: {
    status: 401,
    message: "This passkey was not accepted: unknown, from another site, expired or already used",
  },
  invalid_mfa_code: { status: 401, message: "The code is wrong, expired or was already used" },
  mfa_required: {
    status: 401,
    message: "This account has a second factor: send code (or recoveryCode) with the password",
  },
  wrong_password: { status: 403, message: "The current password is incorrect" },
  account_disabled: {
    status: 403,
    message: "This account has been disabled by an administrator: contact them to have it enabled again",
  },
  email_not_verified: {
    status: 403,
    message: "Confirm your email address first: open the link we mailed you, or ask for a new one",
  },
  forbidden: { status: 403, message: "This account may not open this page" },
  ambiguous_url: {
    status: 403,
    message:
      "This address can be read more than one way (encoded slashes, //, ;, backslashes); use its plain form",
  },
  reauthentication_required: {
    status: 403,
    message: "Confirm it is you: authenticate again to continue (POST /auth/reauthenticate)",
  },
  insufficient_scope: {
    status: 403,
    message: "This token does not carry the scope this endpoint needs",
  },
  token_not_allowed: {
    status: 403,
    message: "A personal access token cannot be used here; sign in instead",
  },
  mfa_setup_required: {
    status: 403,
    message: "Set up a second factor first (POST /auth/mfa/totp/setup): this server requires one",
  },
  second_factor_required: {
    status: 403,
    message: "This address needs a session authenticated with a second factor; sign in again with one",
  },
  csrf_rejected: { status: 403, message: "This request came from another site and was refused" },
  oauth_denied: { status: 403, message: "The sign-in was cancelled at the provider" },
  oauth_email_unverified: {
    status: 403,
    message:
      "The provider did not confirm your email address; confirm it there, or register with email and password",
  },
  not_found: { status: 404, message: "No such endpoint" },
  last_admin: { status: 409, message: "This would leave no enabled admin: make another admin first" },
  oauth_unknown_provider: { status: 404, message: "No such sign-in provider" },
  email_taken: { status: 409, message: "An account with this email already exists" },
  too_many_tokens: {
    status: 409,
    message: "This account holds as many personal access tokens as it may; revoke one first",
  },
  mfa_already_enabled: { status: 409, message: "Two-factor sign-in with an authenticator app is already on" },
  mfa_not_enabled: { status: 409, message: "Two-factor sign-in with an authenticator app is not on" },
  identity_taken: { status: 409, message: "This provider account is already linked to an account" },
  last_sign_in_method: {
    status: 409,
    message: "This is the last way to sign in to this account: set a password or link another provider first",
  },
  oauth_link_required: {
    status: 409,
    message:
      "An account already uses this email address: sign in with its password, then link this provider from your account page",
  },
  payload_too_large: { status: 413, message: "The request body is too large" },
  too_many_fields: { status: 413, message: "The form has too many fields" },
  unsupported_media_type: { status: 415, message: "Send the body as application/json" },
  // Retry-After comes from the limiter's decision, per error.
  rate_limited: { status: 429, message: "Too many requests; try again later" },
  internal_error: { status: 500, message: "Something went wrong on our side" },
  upstream_error: { status: 502, message: "The model provider did not answer; try again shortly" },
  oauth_provider_error: {
    status: 502,
    message: "The sign-in provider's answer could not be verified; try again, or sign in another way",
  },
  oauth_provider_unavailable: {
    status: 503,
    message: "The sign-in provider is not answering; try again shortly, or sign in another way",
    retryAfter: TRANSIENT_RETRY_AFTER,
  },
  service_unavailable: {
    status: 503,
    message: "The service is temporarily unavailable; try again shortly",
    retryAfter: TRANSIENT_RETRY_AFTER,
  },
  busy: {
    status: 503,
    message: "Too many password checks at once; try again in a few seconds",
    retryAfter: TRANSIENT_RETRY_AFTER,
  },
  // Permanent until an operator changes the configuration: no Retry-After.
  not_configured: { status: 503, message: "This feature is not configured" },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/**
 * Why a dependency check failed (`reason` on /health and /metrics, the `redis` log lines): the code and the
 * short text shown next to it. Never a host, port or credential.
 */
export const DEPENDENCY_REASONS = {
  timed_out: "timed out",
  connection_refused: "connection refused",
  host_not_found: "host not found",
  connection_lost: "connection lost",
  not_connected: "not connected",
  authentication_failed: "authentication failed",
  loading: "loading its dataset",
  out_of_memory: "out of memory",
  read_only: "read-only replica",
  persistence_failing: "persistence failing",
  cluster_unavailable: "cluster unavailable",
  database_missing: "database does not exist",
  unavailable: "unavailable",
  unreachable: "unreachable",
  api_key_rejected: "API key rejected",
  rate_limited: "rate limited",
  http_error: "HTTP error",
  check_failed: "check failed",
  // A job queue's own troubles (health/checks.ts checkQueue).
  no_worker: "no worker is taking jobs",
  retrying: "jobs waiting to retry",
  jobs_failed: "jobs failed",
} as const;

export type DependencyReason = keyof typeof DEPENDENCY_REASONS;

/**
 * Codes of the cache's own errors (server/domain/cache/errors.ts). They never reach a client as such: a request
 * they fail answers `internal_error` or `upstream_error`, and the log line names the cache code.
 */
export const CACHE_ERROR_CODES = {
  cache_error: "a cache failure",
  cache_invalid_key: "a category or key the cache refuses (bad characters, too long)",
  cache_unknown_category: "a category that is not configured",
  cache_loader_timeout: "a loader that took longer than its timeout",
  cache_l2_circuit_open: "an L2 call skipped while the circuit breaker is open",
  cache_l2_timeout: "an L2 call that took longer than its timeout",
} as const;

export type CacheErrorCode = keyof typeof CACHE_ERROR_CODES;
