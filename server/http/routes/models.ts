import { Router } from "express";
import type { Config } from "../../config/config.js";
import type { Cache } from "../../domain/cache/cache.js";
import type { Model, OpenAIClient } from "../../domain/models/openai-client.js";
import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";

const CACHE_KEY = "list"; // one list per deployment: it depends only on the configured API key

/** `GET /api/models`: OpenAI's model list for logged-in users, cached in category `models`. */
export function createModelsRouter(deps: {
  config: Config;
  cache: Cache;
  openai?: OpenAIClient;
  logger: Logger;
}): Router {
  const { config, cache, openai, logger } = deps;
  const router = Router();

  router.get("/", async (req, res) => {
    if (!req.user) throw new HttpError("unauthenticated");
    if (!openai) {
      throw new HttpError("not_configured", {
        message: "The model list is not available: OPENAI_API_KEY is not set",
      });
    }
    let result: { value: Model[]; status: "hit" | "miss" | "stale" };
    try {
      result = await cache.getOrSetWithStatus(
        "models",
        CACHE_KEY,
        ({ signal }) => openai.listModels(signal),
        {
          // The client has its own timeout; this only guards against a loader that never settles.
          timeoutMs: config.openai.timeoutMs + 1000,
        },
      );
    } catch (err) {
      logger.warn(
        { err: { name: (err as Error).name, message: (err as Error).message } },
        "model list failed",
      );
      throw new HttpError("upstream_error", { cause: err });
    }
    res.setHeader("X-Cache", result.status.toUpperCase());
    res.json({ models: result.value });
  });

  return router;
}
