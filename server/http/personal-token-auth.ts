import type { Request, RequestHandler } from "express";
import type { UserLookup } from "../domain/auth/passport.js";
import type { PersonalTokens, ResolvedToken } from "../domain/auth/personal-tokens.js";
import { sessionUser } from "../domain/auth/session-user.js";
import { HttpError } from "../lib/errors.js";
import { invalidAuthorization, personalTokenOf } from "./bearer.js";

/**
 * Where a personal access token is accepted: the teams' API, who it belongs to, forward auth, and the
 * admin API (which wants the `admin` scope and an owner in group `admin`). Never
 * the account itself (sessions, password, tokens): a leaked token must not be able to take it over.
 */
const TOKEN_PATHS = [/^\/api\//, /^\/auth\/me$/, /^\/auth\/verify$/, /^\/admin\/api\//];

const GRANT = Symbol("tokenGrant");
type WithGrant = Request & { [GRANT]?: ResolvedToken };

/** The personal access token a request was authenticated with, if any. */
export function tokenGrantOf(req: Request): ResolvedToken | undefined {
  return (req as WithGrant)[GRANT];
}

/**
 * Signs a request carrying a personal access token in as the token's owner: the grant and the user
 * come from the cache (no database query once warm), a revoked, expired or unknown token is 401, one
 * bound to an older password (the owner chose so) too. Mount after the session stack.
 */
export function personalTokenAuth(deps: { tokens: PersonalTokens; lookup: UserLookup }): RequestHandler {
  const { tokens, lookup } = deps;
  return async (req, res, next) => {
    const token = personalTokenOf(req);
    if (token === undefined) return next();
    if (!TOKEN_PATHS.some((path) => path.test(req.path))) throw new HttpError("token_not_allowed");
    const grant = await tokens.resolve(token);
    const user = grant ? await lookup.findById(grant.userId) : undefined;
    if (!grant || !user || (grant.epoch !== null && grant.epoch !== (user.credentialEpoch ?? 0))) {
      throw invalidAuthorization(res);
    }
    req.user = sessionUser(user);
    (req as WithGrant)[GRANT] = grant;
    tokens.used(grant.id);
    next();
  };
}

/**
 * Guards a team's route: 401 unless signed in; a personal access token must carry `scope` (403
 * `insufficient_scope`), a session (cookie or bearer) is its owner and passes.
 */
export function requireScope(scope: string): RequestHandler {
  return (req, res, next) => {
    if (!req.user) throw new HttpError("unauthenticated");
    const grant = tokenGrantOf(req);
    if (grant && !grant.scopes.includes(scope)) {
      res.setHeader("WWW-Authenticate", `Bearer error="insufficient_scope", scope="${scope}"`);
      throw new HttpError("insufficient_scope", { details: { scope } });
    }
    next();
  };
}
