import { Router } from "express";
import type { Config } from "../../config/config.js";
import { buildOpenApiDocument } from "./document.js";
import { referencePage } from "./reference-page.js";

/** The API's own version, in the document's `info.version`. */
export const API_VERSION = "1.0.0";
const CACHE_SECONDS = 300;

/**
 * `GET /openapi.json` (the OpenAPI 3.1 document) and `GET /docs/api` (the same as a page). Public and the
 * same for everyone: mounted before the session stack, built once, cacheable.
 */
export function createOpenApiRouter(deps: { config: Config }): Router {
  const { config } = deps;
  const document = buildOpenApiDocument({
    serverUrl: config.mail.publicUrl,
    version: API_VERSION,
    sessionCookie: config.session.cookieName,
  });
  const json = JSON.stringify(document);
  const page = referencePage(document);
  const router = Router();
  router.get("/openapi.json", (_req, res) => {
    res.setHeader("Cache-Control", `public, max-age=${CACHE_SECONDS}`);
    res.type("application/json").send(json);
  });
  router.get("/docs/api", (_req, res) => {
    res.setHeader("Cache-Control", `public, max-age=${CACHE_SECONDS}`);
    res.type("html").send(page);
  });
  return router;
}
