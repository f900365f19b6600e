import express, { type RequestHandler } from "express";
import { HttpError, unsupportedMediaType } from "./errors.js";

export const JSON_BODY_LIMIT = "10kb";
/** Fields accepted in one URL-encoded form; the pages' forms have at most three. */
export const FORM_PARAMETER_LIMIT = 20;

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

/**
 * Turns body-parser's and the router's client errors into the API's error codes; undefined for anything
 * else. Messages are ours: the parsers' own may quote the input.
 */
export function translateBodyError(err: unknown): HttpError | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const { type, status, code, expose } = err as {
    type?: string;
    status?: unknown;
    code?: unknown;
    expose?: unknown;
  };
  if (err instanceof URIError && status === 400) {
    return new HttpError(400, "invalid_path", "The URL contains a malformed %-escape");
  }
  switch (type) {
    case "entity.parse.failed":
      return new HttpError(400, "invalid_json", "The request body is not valid JSON");
    case "entity.too.large":
      return new HttpError(413, "payload_too_large", `The request body is larger than ${JSON_BODY_LIMIT}`);
    case "encoding.unsupported":
      return new HttpError(
        415,
        "unsupported_media_type",
        "Unsupported Content-Encoding; send the body plain, or as gzip, deflate or br",
      );
    case "charset.unsupported":
      return new HttpError(415, "unsupported_media_type", "Send the body as UTF-8");
    case "parameters.too.many":
      return new HttpError(413, "too_many_fields", `The form has more than ${FORM_PARAMETER_LIMIT} fields`);
    case "request.aborted":
      return new HttpError(400, "request_aborted", "The request body was not received completely");
    default:
      break;
  }
  // A body whose Content-Encoding does not decode: zlib's error, passed on by body-parser as a 400.
  if (typeof code === "string" && code.startsWith("Z_")) {
    return new HttpError(
      400,
      "invalid_encoding",
      "The request body does not decode as its Content-Encoding says",
    );
  }
  // Any other client error from the body parsers (http-errors marks them `expose`).
  if (expose === true && typeof status === "number" && status >= 400 && status < 500) {
    return new HttpError(status, "invalid_body", "The request body could not be read");
  }
  return undefined;
}
