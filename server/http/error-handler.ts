import type { ErrorRequestHandler, Request, RequestHandler } from "express";
import type { ErrorBody } from "../../shared/api-types.js";
import { isDatabaseUnavailableError } from "../db/database.js";
import type { Logger } from "../logging/logger.js";
import { isRedisUnavailableError } from "../redis/redis-client.js";
import { translateBodyError } from "./body.js";
import { DependencyUnavailableError, HttpError, notFound } from "./errors.js";

export const notFoundHandler = (): RequestHandler => (_req, _res, next) => next(notFound());

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const body = translateBodyError(err);
  if (body) return body;
  if (isRedisUnavailableError(err)) return new DependencyUnavailableError("redis", err);
  if (isDatabaseUnavailableError(err)) return new DependencyUnavailableError("database", err);
  return new HttpError(500, "internal_error", "Something went wrong on our side", undefined, { cause: err });
}

/** Renders an error as an HTML page when the request is a browser asking for a page; else undefined. */
export type HtmlErrorRenderer = (err: HttpError, req: Request) => string | undefined;

/**
 * The one place errors become responses: `{"error":{"code","message"}}`, never a stack trace; pages get
 * the same status and message as HTML through `renderHtml`.
 */
export function errorHandler(logger: Logger, renderHtml?: HtmlErrorRenderer): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const httpError = toHttpError(err);
    const cause = httpError.cause ?? (httpError === err ? undefined : err);
    const logFields = {
      reqId: res.locals.requestId,
      method: req.method,
      path: req.path,
      status: httpError.status,
      code: httpError.code,
      err: cause instanceof Error ? { name: cause.name, message: cause.message } : undefined,
    };
    if (httpError.status >= 500) {
      logger.error(logFields, "request failed");
    } else {
      logger.debug(logFields, "request rejected");
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (httpError.status === 503) res.setHeader("Retry-After", "5");
    const page = renderHtml?.(httpError, req);
    if (page !== undefined) {
      res.status(httpError.status).type("html").send(page);
      return;
    }
    const body: ErrorBody = {
      error: { code: httpError.code, message: httpError.message, ...httpError.details },
    };
    res.status(httpError.status).json(body);
  };
}
