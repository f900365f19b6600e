import { createHash, timingSafeEqual } from "node:crypto";
import type { Request, RequestHandler } from "express";
import { HttpError } from "../lib/errors.js";

const digest = (value: string) => createHash("sha256").update(value).digest();

/** The budget of admin keys one client may present: counted before the comparison, refunded when right. */
export interface AdminKeyLimit {
  /** Counts one presented key; throws the 429 past the limit, whether or not this key is right. */
  enforce(req: Request): Promise<void>;
  /** Gives the unit back: the key was right. */
  refund(req: Request): Promise<void>;
}

export interface AdminAuth {
  /**
   * What the request's `Authorization: Bearer` says: `absent` (no such header, or no key configured),
   * `valid` or `invalid`. A presented key counts against the limit first, so guessing costs the same
   * wherever it is tried (`/metrics`, the cache API, health details); past it this throws 429.
   */
  check(req: Request): Promise<"absent" | "valid" | "invalid">;
  /** Guards operator endpoints: 404 without a configured key (nothing exposed by default), 401 without the right one. */
  require: RequestHandler;
}

/** `Authorization: Bearer <ADMIN_API_KEY>`, compared in constant time, guesses limited per client. */
export function createAdminAuth(adminApiKey: string | undefined, limit?: AdminKeyLimit): AdminAuth {
  const expected = adminApiKey ? digest(adminApiKey) : undefined;

  const check: AdminAuth["check"] = async (req) => {
    const header = req.get("authorization");
    if (!expected || header === undefined) return "absent";
    await limit?.enforce(req);
    const match = /^Bearer\s+(.+)$/i.exec(header);
    // Hashing first gives equal-length buffers, so the comparison time does not depend on the guess.
    if (!match?.[1] || !timingSafeEqual(digest(match[1].trim()), expected)) return "invalid";
    await limit?.refund(req);
    return "valid";
  };

  const require: RequestHandler = (req, res, next) => {
    if (!expected) return next(new HttpError("not_found"));
    check(req).then((result) => {
      if (result === "valid") return next();
      res.setHeader("WWW-Authenticate", 'Bearer realm="admin"');
      next(new HttpError("unauthorized"));
    }, next);
  };

  return { check, require };
}
