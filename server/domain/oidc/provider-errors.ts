import * as client from "openid-client";
import { HttpError } from "../../lib/errors.js";

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
]);

/** True when the provider could not be reached or answered with a server error: worth a retry later. */
function unreachable(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const { name, code, message, status } = e as {
      name?: string;
      code?: string;
      message?: string;
      status?: number;
    };
    if (name === "TimeoutError" || name === "AbortError") return true;
    if (code && NETWORK_CODES.has(code)) return true;
    if (e instanceof TypeError && message === "fetch failed") return true;
    if (typeof status === "number" && status >= 500 && !(e instanceof client.ResponseBodyError)) return true;
  }
  return false;
}

/**
 * A failure talking to a provider as the catalog's code: down or slow → `oauth_provider_unavailable` (503,
 * retry), the person declined → `oauth_denied`, anything the provider said or signed that does not check
 * out → `oauth_provider_error` (502). The cause is kept for the log, never shown.
 */
export function providerFailure(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof client.AuthorizationResponseError) {
    return new HttpError(err.error === "access_denied" ? "oauth_denied" : "oauth_provider_error", {
      cause: err,
    });
  }
  if (unreachable(err)) return new HttpError("oauth_provider_unavailable", { cause: err });
  return new HttpError("oauth_provider_error", { cause: err });
}

/** The token endpoint refused this client secret (so the next configured one may work). */
export function isInvalidClient(err: unknown): boolean {
  return err instanceof client.ResponseBodyError && err.error === "invalid_client";
}
