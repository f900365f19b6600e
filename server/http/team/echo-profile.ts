import { Router } from "express";
import { HttpError } from "../../lib/errors.js";
import type { RouteServices } from "./routes.js";

/** The cache category the example uses; declare it (and its TTL) in the cache configuration. */
export const PROFILE_CATEGORY = "profiles";
/** The scope a personal access token needs here; list it in TOKEN_SCOPES to let tokens carry it. */
export const PROFILE_SCOPE = "profile:read";

interface Profile {
  id: string;
  email: string;
  memberSince: string; // ISO 8601
}

/**
 * `GET /api/echo-profile`: the worked example of a team route. The logged-in user's profile, read from
 * the database once per TTL and served from the cache (L1, then Redis) in between; `X-Cache` says which.
 * A personal access token needs the `profile:read` scope.
 */
export function createEchoProfileRouter(
  deps: Pick<RouteServices, "cache" | "users" | "requireScope">,
): Router {
  const { cache, users, requireScope } = deps;
  const router = Router();

  router.get("/", requireScope(PROFILE_SCOPE), async (req, res) => {
    const id = (req.user as Express.User).id;
    const { value, status } = await cache.getOrSetWithStatus<Profile | null>(
      PROFILE_CATEGORY,
      id,
      async () => {
        const user = await users.findById(id);
        // Not cached when missing (null): a new account must not wait out a TTL.
        return user ? { id: user.id, email: user.email, memberSince: user.createdAt.toISOString() } : null;
      },
    );
    if (!value) throw new HttpError("not_found", { message: "No such user" });
    res.setHeader("X-Cache", status.toUpperCase());
    res.json({ profile: value });
  });

  return router;
}
