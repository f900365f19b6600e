import { type Request, Router } from "express";
import { z } from "zod";
import type { Config } from "../../config/config.js";
import { type DeviceSignIn, DeviceTokenRefusal, formatUserCode } from "../../domain/auth/device-sign-in.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import { sessionToken } from "../../domain/session/session-token.js";
import { readCookie } from "../../lib/cookies.js";
import { ERROR_CATALOG } from "../../lib/error-catalog.js";
import { HttpError } from "../../lib/errors.js";
import { markApp } from "../bearer.js";
import { jsonBody } from "../body.js";
import { ownOrigin } from "../csrf.js";
import { accountContext } from "../request-context.js";
import { parseBody } from "../validate.js";

export const codeRequestSchema = z.object(
  { client_name: z.string({ error: "client_name must be a string" }).max(200).optional() },
  { error: "The body must be a JSON object" },
);
export const tokenRequestSchema = z.object(
  {
    device_code: z.string({ error: "device_code is required" }).min(1).max(128),
    grant_type: z.string().optional(),
  },
  { error: "The body must be a JSON object with device_code" },
);

/**
 * Device sign-in for CLIs (RFC 8628): `POST /auth/device/code` starts it, the owner approves on
 * `/device`, and `POST /auth/device/token` polls until it answers a bearer session (as `POST /auth/token`)
 * or one of the RFC's errors, `{"error": code}` with 400 as the RFC has them.
 */
export function createDeviceRouter(deps: {
  config: Config;
  device: DeviceSignIn;
  limits: Pick<ProductRateLimits, "login">;
}): Router {
  const { config, device, limits } = deps;
  const router = Router();
  const verificationUri = (req: Request) => `${config.appOrigins[0] ?? ownOrigin(req) ?? ""}/device`;

  router.post("/device/code", limits.login, jsonBody(), async (req, res) => {
    const input = parseBody(codeRequestSchema, req.body ?? {});
    const client = {
      ip: req.ip ?? "",
      userAgent: req.get("user-agent") ?? "",
      secure: req.secure,
      app: true,
    };
    const started = await device.start(client, input.client_name);
    const userCode = formatUserCode(started.userCode);
    const uri = verificationUri(req);
    res.json({
      device_code: started.deviceCode,
      user_code: userCode,
      verification_uri: uri,
      verification_uri_complete: `${uri}?user_code=${userCode}`,
      expires_in: started.expiresIn,
      interval: started.interval,
    });
  });

  router.post("/device/token", jsonBody(), async (req, res) => {
    if (readCookie(req.headers.cookie, config.session.cookieName) !== undefined) {
      throw new HttpError("credentials_conflict");
    }
    const input = parseBody(tokenRequestSchema, req.body);
    markApp(req);
    try {
      await device.poll(input.device_code, accountContext(req, res, config));
    } catch (err) {
      if (!(err instanceof DeviceTokenRefusal)) throw err;
      return void res
        .status(400)
        .json({ error: err.code, error_description: ERROR_CATALOG[err.code].message });
    }
    const loginAt = req.session.auth?.loginAt ?? Date.now();
    const expiresIn = config.session.absoluteTtlSeconds;
    const token = sessionToken(req.sessionID, config.session.secrets[0] as string);
    res.json({
      token,
      expiresAt: new Date(loginAt + expiresIn * 1000).toISOString(),
      access_token: token,
      token_type: "Bearer",
      expires_in: expiresIn,
    });
  });

  return router;
}
