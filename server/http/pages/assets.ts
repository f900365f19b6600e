import { Router } from "express";
import { ICON, ICON_PATH } from "./icon.js";
import { STYLESHEET, STYLESHEET_PATH } from "./stylesheet.js";

const ONE_YEAR_SECONDS = 365 * 86_400;

/** Serves the stylesheet and the icon under their content hash, cacheable for a year; mounted before sessions. */
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
  return router;
}
