import { type RequestHandler, Router } from "express";
import type { Config } from "../../config/config.js";
import type { AccountService } from "../../domain/auth/account-service.js";
import { type DeviceSignIn, normalizeUserCode } from "../../domain/auth/device-sign-in.js";
import { sessionAmr } from "../../domain/auth/session-auth.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import { HttpError } from "../../lib/errors.js";
import { sessionPort } from "../request-context.js";
import { askAgain } from "../step-up.js";
import { deviceApprovalPage, deviceCodePage, deviceDonePage } from "./device-views.js";
import { formBody, send, text } from "./forms.js";

const UNKNOWN_CODE =
  "This code is unknown, was already used or has expired. Start the sign-in on your device again.";

/**
 * `/device`: the signed-in owner types the code a device shows (RFC 8628), sees what is asking, and
 * approves (after a recent authentication) or denies. A code works once; looking codes up is limited
 * per address like a login.
 */
export function createDevicePages(deps: {
  config: Config;
  accounts: Pick<AccountService, "requireRecentAuthentication">;
  device: DeviceSignIn;
  limits: Pick<ProductRateLimits, "login">;
}): Router {
  const { config, accounts, device, limits } = deps;
  const router = Router();
  const loginFirst = (originalUrl: string) => `/login?next=${encodeURIComponent(originalUrl)}`;
  const limitLookups: RequestHandler = (req, res, next) =>
    req.query.user_code === undefined ? next() : limits.login(req, res, next);

  router.get("/device", limitLookups, async (req, res) => {
    if (!req.user) return res.redirect(303, loginFirst(req.originalUrl));
    const typed = text(req.query.user_code);
    if (typed === undefined) return send(res, 200, deviceCodePage({}));
    const code = normalizeUserCode(typed);
    const grant = code ? await device.pending(code) : undefined;
    if (!grant) return send(res, 400, deviceCodePage({ code: typed.slice(0, 16), alert: UNKNOWN_CODE }));
    send(res, 200, deviceApprovalPage({ grant, email: req.user.email }));
  });

  router.post("/device", limits.login, formBody(), async (req, res) => {
    if (!req.user) return res.redirect(303, loginFirst("/device"));
    const code = normalizeUserCode(req.body?.user_code);
    if (!code) return send(res, 400, deviceCodePage({ alert: UNKNOWN_CODE }));
    const approve = req.body?.decision === "approve";
    const port = sessionPort(req, res, config);
    if (approve) {
      try {
        accounts.requireRecentAuthentication(port);
      } catch (err) {
        if (askAgain(err, res, `/device?user_code=${code}`)) return;
        throw err;
      }
    }
    const amr = [...sessionAmr(port.auth ?? { loginAt: 0, ip: "", userAgent: "" })];
    const decided = await device
      .decide(code, approve ? { approve, user: req.user, amr } : { approve })
      .catch((err: unknown) => {
        if (err instanceof HttpError && err.code === "second_factor_required") return err;
        throw err;
      });
    if (decided instanceof HttpError) return send(res, 403, deviceCodePage({ alert: decided.message }));
    if (!decided) return send(res, 400, deviceCodePage({ alert: UNKNOWN_CODE }));
    send(res, 200, deviceDonePage({ approved: approve }));
  });

  return router;
}
