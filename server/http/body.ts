import express, { type RequestHandler } from "express";
import { HttpError, unsupportedMediaType } from "./errors.js";

export const JSON_BODY_LIMIT = "10kb";

const parseJson = express.json({ limit: JSON_BODY_LIMIT, strict: true });

/** JSON bodies only, at most 10 kB; anything else with a body is a 415 before it is read. */
export function jsonBody(): RequestHandler {
  return (req, res, next) => {
    const hasBody =
      req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
    if (hasBody && !req.is("application/json")) return next(unsupportedMediaType());
    parseJson(req, res, next);
  };
}

/** Turns body-parser's errors into the API's error codes. */
export function translateBodyError(err: unknown): HttpError | undefined {
  const type = (err as { type?: string }).type;
  switch (type) {
    case "entity.parse.failed":
      return new HttpError(400, "invalid_json", "The request body is not valid JSON");
    case "entity.too.large":
      return new HttpError(413, "payload_too_large", `The request body is larger than ${JSON_BODY_LIMIT}`);
    case "encoding.unsupported":
    case "charset.unsupported":
      return new HttpError(415, "unsupported_media_type", "Send the body as UTF-8 JSON");
    case "request.aborted":
      return new HttpError(400, "request_aborted", "The request body was not received completely");
    default:
      return undefined;
  }
}
