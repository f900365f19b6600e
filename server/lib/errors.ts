import { ERROR_CATALOG, type ErrorCode } from "./error-catalog.js";

export interface HttpErrorOptions {
  /** Replaces the catalog's default message; must be as safe to show. */
  message?: string;
  /** Extra fields of the JSON error body (`field`, `retryAfter`, ...). */
  details?: Record<string, unknown>;
  /** Seconds for `Retry-After`, when it depends on this error (a rate limit's wait). */
  retryAfter?: number;
  cause?: unknown;
}

/** Every error the API answers with, built from its catalog code: status, message, Retry-After. */
export class HttpError extends Error {
  readonly status: number;
  readonly details?: Record<string, unknown>;
  /** Seconds; set only on refusals that pass by themselves (see the catalog). */
  readonly retryAfter?: number;

  constructor(
    readonly code: ErrorCode,
    options: HttpErrorOptions = {},
  ) {
    const entry: { status: number; message: string; retryAfter?: number } = ERROR_CATALOG[code];
    super(options.message ?? entry.message, { cause: options.cause });
    this.name = "HttpError";
    this.status = entry.status;
    this.details = options.details;
    this.retryAfter = options.retryAfter ?? entry.retryAfter;
  }
}

/** A dependency (Redis, the database) cannot answer right now; the request may be retried. */
export class DependencyUnavailableError extends HttpError {
  constructor(
    readonly dependency: "redis" | "database",
    cause?: unknown,
  ) {
    super("service_unavailable", { cause });
    this.name = "DependencyUnavailableError";
  }
}

/** Too much work queued here (password hashing): refused at once rather than answered late; retry shortly. */
export class ServerBusyError extends HttpError {
  constructor() {
    super("busy");
    this.name = "ServerBusyError";
  }
}
