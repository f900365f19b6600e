import { Router } from "express";
import { ICON, ICON_PATH } from "./icon.js";
import {
  PASSKEY_SCRIPT,
  PASSKEY_SCRIPT_PATH,
  WEBAUTHN_BROWSER,
  WEBAUTHN_BROWSER_PATH,
} from "./passkey-script.js";
import { STYLESHEET, STYLESHEET_PATH } from "./stylesheet.js";

const ONE_YEAR_SECONDS = 365 * 86_400;

/** Serves the stylesheet, the icon and the passkey scripts under their content hash, cacheable for a year; mounted before sessions. */
export function createAssetsRouter(): Router {
  const router = Router();
  router.get(STYLESHEET_PATH, (_req, res) => {
    res.setHeader("Content-Type", "text/css; charset=utf-8");
    res.setHeader("Cache-Control", `public, max-age=${ONE_YEAR_SECONDS}, immutable`);
    res.send(STYLESHEET);
  });
  router.get(ICON_PATH, (_req, res) => {
    res.setHeader("Content-Type", "image/svg+xml");
    res.setHeader("Cache-Control", `public, max-age=${ONE_YEAR_SECONDS}, immutable`);
    res.send(ICON);
  });
  for (const [path, body] of [
    [WEBAUTHN_BROWSER_PATH, WEBAUTHN_BROWSER],
    [PASSKEY_SCRIPT_PATH, PASSKEY_SCRIPT],
  ] as const) {
    router.get(path, (_req, res) => {
      res.setHeader("Content-Type", "text/javascript; charset=utf-8");
      res.setHeader("Cache-Control", `public, max-age=${ONE_YEAR_SECONDS}, immutable`);
      res.send(body);
    });
  }
  return router;
}
