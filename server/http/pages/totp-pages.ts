import { type Request, type Response, Router } from "express";
import { totpConfirmSchema } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { SecondFactors } from "../../domain/mfa/second-factors.js";
import { HttpError } from "../../lib/errors.js";
import { sessionPort } from "../request-context.js";
import { askAgain } from "../step-up.js";
import { check } from "../validate.js";
import { formBody, send } from "./forms.js";
import { qrSvg, recoveryCodesPage, totpOffPage, totpSetupPage } from "./totp-views.js";
import type { Errors } from "./views.js";

const SETUP_PAGE = "/account/mfa/totp";
const OFF_PAGE = "/account/mfa/totp/off";

/** The factor is already on, or not on: the account page shows which, nothing else to say. */
const isStateConflict = (err: unknown) =>
  err instanceof HttpError && (err.code === "mfa_already_enabled" || err.code === "mfa_not_enabled");

/** The recovery codes, this once: never kept by the browser's cache or a proxy. */
function sendCodes(res: Response, codes: string[], turnedOn: boolean) {
  res.setHeader("Cache-Control", "no-store");
  send(res, 200, recoveryCodesPage({ codes, turnedOn }));
}

/**
 * `/account/mfa/*`: the authenticator app from the account page. Setting up shows the pending secret as a
 * QR code and as text with a form for the first code; confirming, and regenerating, show the recovery
 * codes once; turning off asks first. Each needs a recent authentication ("Confirm it is you" and back).
 */
export function createTotpPages(deps: {
  config: Config;
  secondFactors: Pick<
    SecondFactors,
    "setupTotp" | "pendingTotp" | "confirmTotp" | "disableTotp" | "regenerateRecoveryCodes"
  >;
}): Router {
  const { config, secondFactors } = deps;
  const router = Router();
  const form = formBody();

  /** The setup page for the secret waiting for its first code; false when there is none. */
  const renderSetup = async (req: Request, res: Response, status: number, errors?: Errors) => {
    const pending = await secondFactors.pendingTotp(sessionPort(req, res, config));
    if (!pending) return false;
    send(res, status, totpSetupPage({ secret: pending.secret, qr: await qrSvg(pending.uri), errors }));
    return true;
  };

  router.post("/account/mfa/totp/setup", form, async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    try {
      await secondFactors.setupTotp(sessionPort(req, res, config));
    } catch (err) {
      if (askAgain(err, res, "/account")) return;
      if (isStateConflict(err)) return res.redirect(303, "/account");
      throw err;
    }
    res.redirect(303, SETUP_PAGE);
  });

  router.get(SETUP_PAGE, async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    try {
      if (!(await renderSetup(req, res, 200))) res.redirect(303, "/account");
    } catch (err) {
      if (askAgain(err, res, SETUP_PAGE)) return;
      throw err;
    }
  });

  router.post("/account/mfa/totp/confirm", form, async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    try {
      const input = check(totpConfirmSchema, { code: String(req.body?.code ?? "").replace(/\s/g, "") });
      if (!input.ok) {
        if (!(await renderSetup(req, res, 400, { code: input.problems.code }))) res.redirect(303, "/account");
        return;
      }
      const { recoveryCodes } = await secondFactors.confirmTotp(
        sessionPort(req, res, config),
        input.value.code,
      );
      sendCodes(res, recoveryCodes, true);
    } catch (err) {
      if (askAgain(err, res, SETUP_PAGE)) return;
      if (isStateConflict(err)) return res.redirect(303, "/account");
      if (err instanceof HttpError && err.code === "invalid_mfa_code") {
        if (!(await renderSetup(req, res, err.status, { code: err.message }))) res.redirect(303, "/account");
        return;
      }
      throw err;
    }
  });

  router.post("/account/mfa/recovery-codes", form, async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    try {
      const { recoveryCodes } = await secondFactors.regenerateRecoveryCodes(sessionPort(req, res, config));
      sendCodes(res, recoveryCodes, false);
    } catch (err) {
      if (askAgain(err, res, "/account")) return;
      if (isStateConflict(err)) return res.redirect(303, "/account");
      throw err;
    }
  });

  router.get(OFF_PAGE, (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    send(res, 200, totpOffPage());
  });

  router.post(OFF_PAGE, form, async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    try {
      await secondFactors.disableTotp(sessionPort(req, res, config));
    } catch (err) {
      if (askAgain(err, res, OFF_PAGE)) return;
      if (isStateConflict(err)) return res.redirect(303, "/account");
      throw err;
    }
    res.redirect(303, "/account?done=totp-off");
  });

  return router;
}
