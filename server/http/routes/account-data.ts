import { type RequestHandler, Router } from "express";
import type { Config } from "../../config/config.js";
import type { AccountDeletion } from "../../domain/auth/account-deletion.js";
import type { createAccountExport } from "../../domain/auth/account-export.js";
import { HttpError } from "../../lib/errors.js";
import { sessionPort } from "../request-context.js";
import { requireUser } from "../require-user.js";

type AccountExports = ReturnType<typeof createAccountExport>;

/**
 * `GET /auth/account/export` ("download my data") and `DELETE /auth/account` ("delete my account", after
 * a recent authentication: `stepUp`).
 */
export function createAccountDataRouter(deps: {
  config: Config;
  exports: AccountExports;
  deletion: AccountDeletion;
  stepUp: RequestHandler;
}): Router {
  const { config, exports, deletion, stepUp } = deps;
  const router = Router();

  router.get("/account/export", requireUser, async (req, res) => {
    const data = await exports.exportAccount((req.user as Express.User).id, req.sessionID);
    if (!data) throw new HttpError("unauthenticated");
    res.setHeader("Content-Disposition", 'attachment; filename="account.json"');
    res.json(data);
  });

  router.delete("/account", stepUp, async (req, res) => {
    const done = await deletion.deleteAccount((req.user as Express.User).id, "self");
    // This session is gone from the store already; destroying it here also clears the cookie and stops
    // the end of the request from writing it back.
    await sessionPort(req, res, config).destroy();
    if (!done) throw new HttpError("unauthenticated");
    res.json(done);
  });

  return router;
}
