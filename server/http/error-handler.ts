import type { ErrorRequestHandler, Express, Request, RequestHandler } from "express";
import type { ErrorBody } from "../../shared/api-types.js";
import { isDatabaseUnavailableError } from "../infra/db/database.js";
import type { Logger } from "../infra/logging/logger.js";
import { createRepeatLog } from "../infra/logging/repeat-log.js";
import { isRedisUnavailableError } from "../infra/redis/redis-client.js";
import { DependencyUnavailableError, HttpError } from "../lib/errors.js";
import { translateBodyError } from "./body.js";

export const notFoundHandler = (): RequestHandler => (_req, _res, next) => next(new HttpError("not_found"));

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const body = translateBodyError(err);
  if (body) return body;
  if (isRedisUnavailableError(err)) return new DependencyUnavailableError("redis", err);
  if (isDatabaseUnavailableError(err)) return new DependencyUnavailableError("database", err);
  return new HttpError("internal_error", { cause: err });
}

/** Name, message and, when the error carries one (a cache error's catalog code), its code. */
function describeCause(cause: Error): { name: string; message: string; code?: string } {
  const code = (cause as { code?: unknown }).code;
  return { name: cause.name, message: cause.message, ...(typeof code === "string" ? { code } : {}) };
}

/** Renders an error as an HTML page when the request is a browser asking for a page; else undefined. */
export type HtmlErrorRenderer = (err: HttpError, req: Request) => string | undefined;

/**
 * The one place errors become responses: `{"error":{"code","message"}}`, never a stack trace; pages get
 * the same status and message as HTML through `renderHtml`.
 */
export function errorHandler(logger: Logger, renderHtml?: HtmlErrorRenderer): ErrorRequestHandler {
  // During an outage every request fails the same way: one line when it starts, a count, one at the end.
  const episodes = createRepeatLog(logger);
  return (err, req, res, _next) => {
    const httpError = toHttpError(err);
    const cause = httpError.cause ?? (httpError === err ? undefined : err);
    const errFields = cause instanceof Error ? describeCause(cause) : undefined;
    const first = { reqId: res.locals.requestId };
    const logFields = {
      method: req.method,
      path: req.path,
      status: httpError.status,
      code: httpError.code,
      err: errFields,
    };
    if (res.headersSent) {
      // Too late for an answer. A response that was completed (a store call failing after the body went
      // out) is left alone: destroying the socket would cut the client off mid-read. One that is not
      // complete is cut, so the client sees it was truncated.
      episodes.report(
        `late:${httpError.code}:${errFields?.message}`,
        "warn",
        { ...logFields, responseComplete: res.writableEnded },
        "error after the response was sent",
        first,
      );
      if (!res.writableEnded) res.destroy();
      return;
    }
    if (httpError.status >= 500) {
      const dependency = httpError instanceof DependencyUnavailableError ? httpError.dependency : undefined;
      episodes.report(
        `${httpError.status}:${httpError.code}:${dependency ?? errFields?.message}`,
        "error",
        { ...logFields, dependency },
        "request failed",
        first,
      );
    } else {
      logger.debug({ ...first, ...logFields }, "request rejected");
    }
    if (httpError.retryAfter !== undefined) res.setHeader("Retry-After", String(httpError.retryAfter));
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

type Handle = (req: Request, res: unknown, done?: (err?: unknown) => void) => void;

/**
 * Replaces Express' final handler (which prints raw stacks with console.error and resets the socket)
 * with `handler`. It is reached when middleware calls `next(err)` after the error handler has already
 * run, e.g. express-session reporting a failed store call once the response is out.
 */
export function useFinalErrorHandler(app: Express, handler: ErrorRequestHandler): void {
  const appWithHandle = app as unknown as { handle: Handle };
  const handle = appWithHandle.handle.bind(app);
  appWithHandle.handle = (req, res, done) =>
    handle(
      req,
      res,
      done ??
        ((err?: unknown) => {
          const response = res as Parameters<ErrorRequestHandler>[2];
          handler(err ?? new HttpError("not_found"), req, response, () => {});
        }),
    );
}
