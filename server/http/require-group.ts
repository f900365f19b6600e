import type { RequestHandler } from "express";
import { HttpError } from "../lib/errors.js";

/**
 * For a team's route: 401 without a session, 403 `forbidden` unless the user is in group `name` (as the
 * cached user says: a group change reaches every instance when the user's cache entry is dropped).
 */
export function requireGroup(name: string): RequestHandler {
  return (req, _res, next) => {
    if (!req.user) return next(new HttpError("unauthenticated"));
    next(req.user.groups?.includes(name) ? undefined : new HttpError("forbidden"));
  };
}
