import { type RequestHandler, Router } from "express";
import type { Services } from "../../domain/services.js";
import { requireGroup } from "../require-group.js";
import { requireUser } from "../require-user.js";
import { requireRecentAuthentication } from "../step-up.js";
import { createEchoProfileRouter, PROFILE_CATEGORY } from "./echo-profile.js";

/**
 * What a team's routes get. They are mounted under `/api` behind the whole session stack (prefetch,
 * global rate limit, CSRF, session, passport) and the per-user API rate limit, so `req.user` is set for
 * a logged-in request and every request here is already counted.
 */
export interface RouteServices
  extends Pick<Services, "config" | "logger" | "cache" | "users" | "sessions" | "limits"> {
  /** 401 unless logged in. */
  requireUser: RequestHandler;
  /** For a sensitive route: 401 unless logged in, 403 `reauthentication_required` unless recently authenticated. */
  requireRecentAuthentication: RequestHandler;
  /** 401 unless logged in, 403 `forbidden` unless the user is in the group. */
  requireGroup(name: string): RequestHandler;
}

/**
 * The place for a team's own API: add routers here. Cache categories a route uses are declared in
 * configuration (their TTL too); a route whose category is not declared is not mounted.
 */
export function registerRoutes(router: Router, services: RouteServices): void {
  if (services.cache.categories.includes(PROFILE_CATEGORY)) {
    router.use("/echo-profile", createEchoProfileRouter(services));
  }
}

/** The router createApp mounts at `/api`. */
export function createTeamRouter(
  services: Omit<RouteServices, "requireUser" | "requireRecentAuthentication" | "requireGroup"> &
    Pick<Services, "accounts">,
): Router {
  const router = Router();
  registerRoutes(router, {
    ...services,
    requireUser,
    requireRecentAuthentication: requireRecentAuthentication(services),
    requireGroup,
  });
  return router;
}
