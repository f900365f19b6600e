import express, { type RequestHandler } from "express";
import { HttpError } from "../lib/errors.js";

export const JSON_BODY_LIMIT = "10kb";
/** Fields accepted in one URL-encoded form; the pages' forms have at most three. */
export const FORM_PARAMETER_LIMIT = 20;

const parseJson = express.json({ limit: JSON_BODY_LIMIT, strict: true });

/** JSON bodies only, at most 10 kB; anything else with a body is a 415 before it is read. */
export function jsonBody(): RequestHandler {
  return (req, res, next) => {
    const hasBody =
      req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
    if (hasBody && !req.is("application/json")) return next(new HttpError("unsupported_media_type"));
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
    return new HttpError("invalid_path");
  }
  switch (type) {
    case "entity.parse.failed":
      return new HttpError("invalid_json");
    case "entity.too.large":
      return new HttpError("payload_too_large", {
        message: `The request body is larger than ${JSON_BODY_LIMIT}`,
      });
    case "encoding.unsupported":
      return new HttpError("unsupported_media_type", {
        message: "Unsupported Content-Encoding; send the body plain, or as gzip, deflate or br",
      });
    case "charset.unsupported":
      return new HttpError("unsupported_media_type", { message: "Send the body as UTF-8" });
    case "parameters.too.many":
      return new HttpError("too_many_fields", {
        message: `The form has more than ${FORM_PARAMETER_LIMIT} fields`,
      });
    case "request.aborted":
      return new HttpError("request_aborted");
    default:
      break;
  }
  // A body whose Content-Encoding does not decode: zlib's error, passed on by body-parser as a 400.
  if (typeof code === "string" && code.startsWith("Z_")) {
    return new HttpError("invalid_encoding");
  }
  // Any other client error from the body parsers (http-errors marks them `expose`), e.g. a bad length.
  if (expose === true && typeof status === "number" && status >= 400 && status < 500) {
    return new HttpError("invalid_body");
  }
  return undefined;
}
