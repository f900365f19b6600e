import { Router } from "express";
import type { Config } from "../../config/config.js";
import type { AccountDeletion } from "../../domain/auth/account-deletion.js";
import type { StepUp } from "../../domain/auth/step-up.js";
import { html } from "../../lib/html.js";
import { sessionPort } from "../request-context.js";
import { askAgain } from "../step-up.js";
import { formBody, send, text } from "./forms.js";
import { layout } from "./views.js";

const DELETE_PATH = "/account/delete";

function deletePage(email: string): string {
  return layout(
    "Delete your account",
    html`<h1>Delete your account?</h1>
<form class="card" method="post" action="${DELETE_PATH}">
<input type="hidden" name="confirmed" value="yes">
<p>The account <strong>${email}</strong>, its sessions and its recorded activity are deleted, and every device is signed out. This cannot be undone.</p>
<p><a href="/auth/account/export">Download your data</a> first if you want to keep it.</p>
<button type="submit" class="danger">Delete my account</button>
</form>
<p><a href="/account">Cancel</a></p>`,
  );
}

/**
 * "Delete my account" as pages: a confirmation page, then the deletion. Both need a recent
 * authentication: an old one is sent to "confirm it is you" first, and comes back here.
 */
export function createLeavePages(deps: {
  config: Config;
  accounts: Pick<StepUp, "requireRecentAuthentication">;
  deletion: AccountDeletion;
}): Router {
  const { config, accounts, deletion } = deps;
  const router = Router();

  const recent = (req: Parameters<typeof sessionPort>[0], res: Parameters<typeof sessionPort>[1]) => {
    try {
      accounts.requireRecentAuthentication(sessionPort(req, res, config));
      return true;
    } catch (err) {
      if (askAgain(err, res, DELETE_PATH)) return false;
      throw err;
    }
  };

  router.get(DELETE_PATH, (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    if (recent(req, res)) send(res, 200, deletePage(req.user.email));
  });

  router.post(DELETE_PATH, formBody(), async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    if (!recent(req, res)) return;
    if (text(req.body?.confirmed) !== "yes") return res.redirect(303, DELETE_PATH);
    await deletion.deleteAccount(req.user.id, "self");
    await sessionPort(req, res, config).destroy();
    res.redirect(303, "/login?done=deleted");
  });

  return router;
}
