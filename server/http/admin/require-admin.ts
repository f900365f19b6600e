import type { Request, RequestHandler, Response } from "express";
import type { Config } from "../../config/config.js";
import type { AdminActor } from "../../domain/admin/admin-actions.js";
import { ADMIN_GROUP, type GroupRepository } from "../../domain/auth/groups.js";
import type { StepUp } from "../../domain/auth/step-up.js";
import { HttpError } from "../../lib/errors.js";
import type { AdminAuth } from "../admin-auth.js";
import { sessionPort } from "../request-context.js";

/** The admin a guarded request acts as (set by requireAdmin). */
export function adminActor(res: Response): AdminActor {
  const actor = res.locals.adminActor as AdminActor | undefined;
  if (!actor) throw new Error("adminActor read on a route without requireAdmin");
  return actor;
}

/**
 * Guards the admin API and console: the ADMIN_API_KEY bearer, or a session whose user is in `admin` as
 * the database says now (never the cached copy, which a forged cache entry could change) and whose last
 * authentication is recent (REAUTH_MAX_AGE_SECONDS). 401 without either, 403 `forbidden` for a user
 * outside the group, 403 `reauthentication_required` for an admin who must confirm it is them.
 */
export function requireAdmin(deps: {
  config: Config;
  adminAuth: Pick<AdminAuth, "check">;
  groups: Pick<GroupRepository, "groupsOf">;
  accounts: Pick<StepUp, "requireRecentAuthentication">;
}): RequestHandler {
  const { config, adminAuth, groups, accounts } = deps;
  return async (req: Request, res: Response, next) => {
    const bearer = await adminAuth.check(req);
    if (bearer === "valid") {
      res.locals.adminActor = { apiKey: true } satisfies AdminActor;
      return next();
    }
    if (bearer === "invalid") {
      res.setHeader("WWW-Authenticate", 'Bearer realm="admin"');
      throw new HttpError("unauthorized");
    }
    const user = req.user;
    if (!user) throw new HttpError("unauthenticated");
    if (!(await groups.groupsOf(user.id)).includes(ADMIN_GROUP)) throw new HttpError("forbidden");
    accounts.requireRecentAuthentication(sessionPort(req, res, config));
    res.locals.adminActor = { userId: user.id } satisfies AdminActor;
    next();
  };
}
