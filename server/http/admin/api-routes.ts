import { type RequestHandler, Router } from "express";
import { z } from "zod";
import type { AdminActions } from "../../domain/admin/admin-actions.js";
import type { UserDirectory } from "../../domain/admin/user-directory.js";
import { GROUP_NAME } from "../../domain/auth/groups.js";
import type { FactorReset } from "../../domain/mfa/factor-reset.js";
import type { Identity } from "../../domain/oidc/identities.js";
import type { SecurityEvents } from "../../domain/security/events.js";
import type { UserSessions } from "../../domain/session/user-sessions.js";
import { HttpError } from "../../lib/errors.js";
import { jsonBody } from "../body.js";
import { parseBody } from "../validate.js";
import { adminActor } from "./require-admin.js";

export const searchSchema = z.object({
  q: z.string().max(200, "q is at most 200 characters").optional(),
  filter: z
    .enum(["disabled", "unverified", "mfa"], { error: "filter is disabled, unverified or mfa" })
    .optional(),
  cursor: z.string().max(400, "cursor is not one this server gave").optional(),
  limit: z
    .string()
    .regex(/^\d+$/, "limit is a whole number")
    .transform(Number)
    .pipe(z.number().int().min(1, "limit is 1 to 100").max(100, "limit is 1 to 100"))
    .default(50),
});

export const groupSchema = z.object(
  { name: z.string().regex(GROUP_NAME, "name is lower case letters, digits, '.', '_', '-'") },
  { error: "The body must be a JSON object with name" },
);
export const deleteSchema = z.object(
  { confirm: z.string({ error: "confirm is the account's email address" }).max(320) },
  { error: "The body must be a JSON object with confirm (the account's email address)" },
);

/** `/admin/api`: JSON for automation and the console alike, behind `guard` (requireAdmin). */
export function createAdminApiRouter(deps: {
  guard: RequestHandler;
  directory: UserDirectory;
  actions: AdminActions;
  sessions: Pick<UserSessions, "list">;
  events: Pick<SecurityEvents, "recent">;
  identities: { linked(userId: string): Promise<Identity[]> };
  factors: Pick<FactorReset, "summary">;
}): Router {
  const { guard, directory, actions, sessions, events, identities, factors } = deps;
  const router = Router();
  router.use(guard);

  router.get("/users", async (req, res) => {
    res.json(await directory.search(parseBody(searchSchema, req.query)));
  });

  router.get("/users/:id", async (req, res) => {
    const user = await directory.find(req.params.id as string);
    if (!user) throw new HttpError("not_found", { message: "No such user" });
    const [list, recent, linked, secondFactors] = await Promise.all([
      sessions.list(user.id, ""),
      events.recent(user.id),
      identities.linked(user.id),
      factors.summary(user.id),
    ]);
    res.json({ user, sessions: list, events: recent, identities: linked, secondFactors });
  });

  const id = (params: Record<string, unknown>) => params.id as string;
  router.post("/users/:id/disable", async (req, res) => {
    res.json(await actions.disable(adminActor(res), id(req.params)));
  });
  router.post("/users/:id/enable", async (req, res) => {
    await actions.enable(adminActor(res), id(req.params));
    res.status(204).end();
  });
  router.post("/users/:id/sessions/revoke", async (req, res) => {
    res.json(await actions.revokeSessions(adminActor(res), id(req.params)));
  });
  router.delete("/users/:id/sessions/:sessionId", async (req, res) => {
    await actions.revokeSession(adminActor(res), id(req.params), req.params.sessionId as string);
    res.status(204).end();
  });
  router.post("/users/:id/password-reset", async (req, res) => {
    await actions.sendPasswordReset(adminActor(res), id(req.params));
    res.status(202).json({ status: "queued" });
  });
  router.post("/users/:id/verification", async (req, res) => {
    await actions.resendVerification(adminActor(res), id(req.params));
    res.status(202).json({ status: "queued" });
  });
  router.post("/users/:id/second-factors/reset", async (req, res) => {
    res.json({ removed: await actions.resetSecondFactors(adminActor(res), id(req.params)) });
  });
  router.post("/users/:id/groups", jsonBody(), async (req, res) => {
    const { name } = parseBody(groupSchema, req.body);
    await actions.addGroup(adminActor(res), id(req.params), name);
    res.status(204).end();
  });
  router.delete("/users/:id/groups/:name", async (req, res) => {
    const name = req.params.name as string;
    if (!GROUP_NAME.test(name)) throw new HttpError("not_found", { message: "No such group" });
    await actions.removeGroup(adminActor(res), id(req.params), name);
    res.status(204).end();
  });
  router.delete("/users/:id", jsonBody(), async (req, res) => {
    const { confirm } = parseBody(deleteSchema, req.body);
    res.json(await actions.deleteAccount(adminActor(res), id(req.params), confirm));
  });

  return router;
}
