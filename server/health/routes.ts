import { Router } from "express";

/** Probes; mounted before the session middleware so they never create or touch a session. */
export function createHealthRouter(): Router {
  const router = Router();
  // Liveness never touches a dependency: an outage must not make the platform restart every instance.
  router.get("/live", (_req, res) => {
    res.json({ status: "ok" });
  });
  return router;
}
