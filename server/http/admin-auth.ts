import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { HttpError } from "../lib/errors.js";

const digest = (value: string) => createHash("sha256").update(value).digest();

/**
 * Guards operator endpoints with `Authorization: Bearer <ADMIN_API_KEY>`, compared in constant time.
 * Without a configured key the endpoints do not exist (404), so nothing is exposed by default.
 */
export function requireAdmin(adminApiKey: string | undefined): RequestHandler {
  const expected = adminApiKey ? digest(adminApiKey) : undefined;
  return (req, res, next) => {
    if (!expected) return next(new HttpError("not_found"));
    const header = req.get("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    // Hashing first gives equal-length buffers, so the comparison time does not depend on the guess.
    if (!match?.[1] || !timingSafeEqual(digest(match[1].trim()), expected)) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="admin"');
      return next(new HttpError("unauthorized"));
    }
    next();
  };
}
