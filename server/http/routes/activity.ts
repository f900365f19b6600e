import { Router } from "express";
import type { SecurityEvent, SecurityEvents } from "../../domain/security/events.js";
import { HttpError } from "../../lib/errors.js";

/** What a user is shown of an event: never another account's data, the email hash or the full user agent. */
export function publicActivity(event: SecurityEvent) {
  return {
    at: event.at,
    event: event.event,
    ip: event.ip ?? null,
    device: event.device ?? null,
    requestId: event.requestId ?? null,
  };
}

/** `GET /auth/activity`: the logged-in user's recent security events, newest first. */
export function createActivityRouter(deps: { events: SecurityEvents }): Router {
  const { events } = deps;
  const router = Router();
  router.get("/activity", async (req, res) => {
    if (!req.user) throw new HttpError("unauthenticated");
    res.json({ events: (await events.recent(req.user.id)).map(publicActivity) });
  });
  return router;
}
