import type { RequestHandler } from "express";
import { HttpError } from "../lib/errors.js";

/** Answers 401 unless the request carries a logged-in session; after it, `req.user` is set. */
export const requireUser: RequestHandler = (req, _res, next) => {
  next(req.user ? undefined : new HttpError("unauthenticated"));
};
