import type { Request, RequestHandler, Response } from "express";
import type { Config } from "../../config/config.js";
import type { AdminActor } from "../../domain/admin/admin-actions.js";
import { ADMIN_GROUP, type GroupRepository } from "../../domain/auth/groups.js";
import { isMultiFactor, sessionAmr } from "../../domain/auth/session-auth.js";
import type { StepUp } from "../../domain/auth/step-up.js";
import { HttpError } from "../../lib/errors.js";
import type { AdminAuth } from "../admin-auth.js";
import { personalTokenOf } from "../bearer.js";
import { tokenGrantOf } from "../personal-token-auth.js";
import { sessionPort } from "../request-context.js";

/** The scope a personal access token needs for the admin API (list it in TOKEN_SCOPES to allow it). */
export const ADMIN_SCOPE = "admin";

/** The admin a guarded request acts as (set by requireAdmin). */
export function adminActor(res: Response): AdminActor {
  const actor = res.locals.adminActor as AdminActor | undefined;
  if (!actor) throw new Error("adminActor read on a route without requireAdmin");
  return actor;
}

/**
 * Guards the admin API and console: the ADMIN_API_KEY bearer; a personal access token carrying the
 * `admin` scope (when `tokens` is allowed: the API, never the pages); or a session whose last
 * authentication is recent (REAUTH_MAX_AGE_SECONDS) and, unless MFA=off, included a second factor. Either
 * way its user must be in `admin` as the database says now (never the cached copy, which a forged cache
 * entry could change). 401 without a credential, 403 `forbidden` outside the group, `insufficient_scope`
 * or `token_not_allowed` for a token, `reauthentication_required` or `second_factor_required` for a session.
 */
export function requireAdmin(deps: {
  config: Config;
  adminAuth: Pick<AdminAuth, "check">;
  groups: Pick<GroupRepository, "groupsOf">;
  accounts: Pick<StepUp, "requireRecentAuthentication">;
  tokens?: boolean;
}): RequestHandler {
  const { config, adminAuth, groups, accounts } = deps;
  const isAdmin = async (userId: string) => (await groups.groupsOf(userId)).includes(ADMIN_GROUP);
  return async (req: Request, res: Response, next) => {
    if (personalTokenOf(req) !== undefined) {
      if (!deps.tokens) throw new HttpError("token_not_allowed");
      const grant = tokenGrantOf(req);
      if (!grant || !req.user) throw new HttpError("unauthenticated");
      if (!grant.scopes.includes(ADMIN_SCOPE)) {
        res.setHeader("WWW-Authenticate", `Bearer error="insufficient_scope", scope="${ADMIN_SCOPE}"`);
        throw new HttpError("insufficient_scope", { details: { scope: ADMIN_SCOPE } });
      }
      if (!(await isAdmin(req.user.id))) throw new HttpError("forbidden");
      res.locals.adminActor = { userId: req.user.id } satisfies AdminActor;
      return next();
    }
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
    if (!(await isAdmin(user.id))) throw new HttpError("forbidden");
    const port = sessionPort(req, res, config);
    // An admin's password alone must not open the console: it can end or take over every account. Checked
    // before the recent authentication, which a password confirms but signing in with a factor renews too.
    if (config.mfa.mode !== "off" && !(port.auth && isMultiFactor(sessionAmr(port.auth)))) {
      throw new HttpError("second_factor_required", {
        message: "The admin console and API need a session signed in with a second factor",
      });
    }
    accounts.requireRecentAuthentication(port);
    res.locals.adminActor = { userId: user.id } satisfies AdminActor;
    next();
  };
}
