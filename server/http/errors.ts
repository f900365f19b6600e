/** Every error the API answers with: one status, one code, a message safe to show. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "HttpError";
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new HttpError(400, "invalid_request", message, details);
export const unauthenticated = () => new HttpError(401, "unauthenticated", "Log in to use this endpoint");
export const invalidCredentials = () =>
  new HttpError(401, "invalid_credentials", "Email or password is incorrect");
export const notFound = (message = "No such endpoint") => new HttpError(404, "not_found", message);
export const emailTaken = () =>
  new HttpError(409, "email_taken", "An account with this email already exists");
export const unsupportedMediaType = () =>
  new HttpError(415, "unsupported_media_type", "Send the body as application/json");

/** A dependency (Redis, the database) cannot answer right now; the request may be retried. */
export class DependencyUnavailableError extends HttpError {
  constructor(
    readonly dependency: "redis" | "database",
    cause?: unknown,
  ) {
    super(
      503,
      "service_unavailable",
      "The service is temporarily unavailable; try again shortly",
      undefined,
      {
        cause,
      },
    );
    this.name = "DependencyUnavailableError";
  }
}

/** Too much work queued here (password hashing): refused at once rather than answered late; retry shortly. */
export class ServerBusyError extends HttpError {
  constructor(what = "password checks") {
    super(503, "busy", `Too many ${what} at once; try again in a few seconds`);
    this.name = "ServerBusyError";
  }
}
