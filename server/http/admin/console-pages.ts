import { type Request, type RequestHandler, type Response, Router } from "express";
import type { Services } from "../../domain/services.js";
import { HttpError } from "../../lib/errors.js";
import { within } from "../../lib/within.js";
import { formBody, send, text } from "../pages/forms.js";
import { askAgain } from "../step-up.js";
import { parseBody } from "../validate.js";
import { searchSchema } from "./api-routes.js";
import {
  ACTIONS,
  type ActionName,
  confirmActionPage,
  overviewPage,
  secondFactorNeededPage,
  userPage,
  usersPage,
} from "./console-views.js";
import { adminActor } from "./require-admin.js";

/** Fixed messages after a redirect (`?done=`): nothing from the query is echoed. */
const DONE: ReadonlyMap<string, string> = new Map([
  ["revoke-sessions", "Every session of this account has ended."],
  ["disable", "The account is disabled and its sessions have ended."],
  ["enable", "The account is enabled."],
  ["password-reset", "A password reset link is on its way to the address."],
  ["verification", "A confirmation link is on its way to the address."],
  ["session", "That session has ended."],
  ["groups", "The groups are updated."],
  ["delete", "The account is deleted."],
  ["second-factors-reset", "Every second factor of this account is removed; the owner is mailed."],
]);

type Deps = Pick<Services, "admin" | "sessions" | "events" | "mailQueue" | "audits" | "config" | "oauth">;

/**
 * The console (`/admin`): server-rendered pages over the admin actions, behind `guard` (requireAdmin).
 * A browser without a session goes to the login page, an admin whose authentication is old to "confirm
 * it is you", one signed in without a second factor (unless MFA=off) to a page saying how to get one;
 * destructive actions show a confirmation step first.
 */
export function createConsolePages(deps: Deps & { guard: RequestHandler }): Router {
  const { admin, sessions, events, guard } = deps;
  const router = Router();
  const form = formBody();

  router.use((req, res, next) => {
    const back = req.method === "GET" ? req.originalUrl : "/admin";
    const done = (err?: unknown) => {
      if (!err) return next();
      if (err instanceof HttpError && err.code === "unauthenticated") {
        return res.redirect(303, `/login?next=${encodeURIComponent(back)}`);
      }
      if (err instanceof HttpError && err.code === "second_factor_required") {
        return send(res, 403, secondFactorNeededPage());
      }
      if (askAgain(err, res, back)) return;
      next(err);
    };
    Promise.resolve(guard(req, res, done)).catch(done);
  });

  router.get("/", async (_req, res) => {
    const timeout = deps.config.health.checkTimeoutMs;
    const [hours, locked, users, count, queue] = await Promise.all([
      admin.signInStats.lastDay(),
      admin.lockedAccounts.count().catch(() => undefined),
      admin.directory.count(),
      admin.sessionCount().catch(() => undefined),
      within(deps.mailQueue.depths(), timeout).catch(() => undefined),
    ]);
    const audit = deps.audits.sessions?.latest();
    const redis = audit && {
      policy: audit.maxmemory_policy,
      warnings: audit.findings.map((f) => f.message),
    };
    send(
      res,
      200,
      overviewPage({ hours, locked, users, sessions: count, queue: queue && { ...queue }, redis }),
    );
  });

  router.get("/users", async (req, res) => {
    const query = parseBody(searchSchema, {
      ...req.query,
      q: req.query.q || undefined,
      filter: req.query.filter || undefined,
    });
    const page = await admin.directory.search(query);
    send(res, 200, usersPage({ users: page.users, q: query.q, filter: query.filter, next: page.nextCursor }));
  });

  const renderUser = async (req: Request, res: Response, status: number, alert?: string) => {
    const user = await admin.directory.find(String(req.params.id));
    if (!user) throw new HttpError("not_found", { message: "No such user" });
    const [list, recent, identities, factors] = await Promise.all([
      sessions.list(user.id, ""),
      events.recent(user.id),
      deps.oauth.linked(user.id),
      admin.factors.summary(user.id),
    ]);
    const done = typeof req.query.done === "string" ? DONE.get(req.query.done) : undefined;
    send(
      res,
      status,
      userPage({ user, sessions: list, events: recent, identities, factors, notice: done, alert }),
    );
  };

  router.get("/users/:id", (req, res) => renderUser(req, res, 200));

  /** Runs an action; a refusal the admin can act on (`last_admin`, a bad input) shows on the user page. */
  const act = async (req: Request, res: Response, run: () => Promise<unknown>, done: string) => {
    try {
      await run();
    } catch (err) {
      if (err instanceof HttpError && err.status < 500 && err.status !== 404) {
        return renderUser(req, res, err.status, err.message);
      }
      throw err;
    }
    const id = String(req.params.id);
    res.redirect(303, done === "delete" ? "/admin/users?done=delete" : `/admin/users/${id}?done=${done}`);
  };

  router.post("/users/:id/sessions/:sid/revoke", form, (req, res) =>
    act(
      req,
      res,
      () => admin.actions.revokeSession(adminActor(res), String(req.params.id), String(req.params.sid)),
      "session",
    ),
  );
  router.post("/users/:id/groups", form, (req, res) =>
    act(
      req,
      res,
      async () => {
        const name = text(req.body?.name) ?? "";
        if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) {
          throw new HttpError("invalid_request", {
            message: "A group name is lower case letters, digits, '.', '_', '-'",
          });
        }
        await admin.actions.addGroup(adminActor(res), String(req.params.id), name);
      },
      "groups",
    ),
  );
  router.post("/users/:id/groups/:name/remove", form, (req, res) =>
    act(
      req,
      res,
      () => admin.actions.removeGroup(adminActor(res), String(req.params.id), String(req.params.name)),
      "groups",
    ),
  );

  router.post("/users/:id/:action", form, async (req, res) => {
    const action = String(req.params.action);
    if (!Object.hasOwn(ACTIONS, action)) throw new HttpError("not_found");
    const name = action as ActionName;
    const id = String(req.params.id);
    const user = await admin.directory.find(id);
    if (!user) throw new HttpError("not_found", { message: "No such user" });
    if (ACTIONS[name].destructive && text(req.body?.confirmed) !== "yes") {
      return send(res, 200, confirmActionPage({ user, action: name }));
    }
    if (name === "delete" && text(req.body?.confirm)?.toLowerCase() !== user.email.toLowerCase()) {
      return send(
        res,
        400,
        confirmActionPage({ user, action: name, error: "Type the account's address exactly" }),
      );
    }
    const actor = adminActor(res);
    const runs: Record<ActionName, () => Promise<unknown>> = {
      "revoke-sessions": () => admin.actions.revokeSessions(actor, id),
      disable: () => admin.actions.disable(actor, id),
      enable: () => admin.actions.enable(actor, id),
      "password-reset": () => admin.actions.sendPasswordReset(actor, id),
      verification: () => admin.actions.resendVerification(actor, id),
      "second-factors-reset": () => admin.actions.resetSecondFactors(actor, id),
      delete: () => admin.actions.deleteAccount(actor, id, user.email),
    };
    await act(req, res, runs[name], name);
  });

  return router;
}
