import { Router } from "express";
import type { Config } from "../../config/config.js";
import { buildOpenApiDocument } from "./document.js";
import { referencePage } from "./reference-page.js";

/** The API's own version, in the document's `info.version`. */
export const API_VERSION = "1.0.0";
const CACHE_SECONDS = 300;

/**
 * `GET /openapi.json` (the OpenAPI 3.1 document) and `GET /docs/api` (the same as a page). Public and the
 * same for everyone: mounted before the session stack, cacheable. Built on the first request, not at
 * start-up: it costs 30 to 70 ms of CPU that no worker should pay before it serves.
 */
export function createOpenApiRouter(deps: { config: Config }): Router {
  const { config } = deps;
  let built: { json: string; page: string } | undefined;
  const answers = () => {
    if (!built) {
      const document = buildOpenApiDocument({
        serverUrl: config.mail.publicUrl,
        version: API_VERSION,
        sessionCookie: config.session.cookieName,
      });
      built = { json: JSON.stringify(document), page: referencePage(document) };
    }
    return built;
  };
  const router = Router();
  router.get("/openapi.json", (_req, res) => {
    res.setHeader("Cache-Control", `public, max-age=${CACHE_SECONDS}`);
    res.type("application/json").send(answers().json);
  });
  router.get("/docs/api", (_req, res) => {
    res.setHeader("Cache-Control", `public, max-age=${CACHE_SECONDS}`);
    res.type("html").send(answers().page);
  });
  return router;
}
