import express, { type Express } from "express";
import helmet from "helmet";
import type { Config } from "../config/config.js";
import { installPassportRequest } from "../domain/auth/passport.js";
import type { Services } from "../domain/services.js";
import { HttpError } from "../lib/errors.js";
import { createAdminApiRouter } from "./admin/api-routes.js";
import { createConsolePages } from "./admin/console-pages.js";
import { requireAdmin } from "./admin/require-admin.js";
import { createAdminAuth } from "./admin-auth.js";
import { errorHandler, notFoundHandler, useFinalErrorHandler } from "./error-handler.js";
import { createForwardAuthRouter } from "./forward-auth/routes.js";
import { createReturnTo } from "./forward-auth/safe-next.js";
import { warnOnUntrustedForwarding } from "./forwarded-warning.js";
import { createHttpMetrics } from "./http-metrics.js";
import { requireSecondFactorSetup } from "./mfa-gate.js";
import { createOpenApiRouter } from "./openapi/routes.js";
import { createAssetsRouter } from "./pages/assets.js";
import { createDevicePages } from "./pages/device-pages.js";
import { renderHtmlError } from "./pages/html-errors.js";
import { createPagesRouter } from "./pages/routes.js";
import { createRequestLogger } from "./request-logger.js";
import { createAccountDataRouter } from "./routes/account-data.js";
import { createActivityRouter } from "./routes/activity.js";
import { createAuthRouter } from "./routes/auth.js";
import { createCacheAdminRouter } from "./routes/cache-admin.js";
import { createDeviceRouter } from "./routes/device.js";
import { createEmailChangeRouter } from "./routes/email-change.js";
import { createHealthRouter } from "./routes/health.js";
import { createMetricsRouter } from "./routes/metrics.js";
import { createMfaRouter } from "./routes/mfa.js";
import { createModelsRouter } from "./routes/models.js";
import { createOAuthRouter } from "./routes/oauth.js";
import { createPasskeysRouter } from "./routes/passkeys.js";
import { createPersonalTokensRouter } from "./routes/personal-tokens.js";
import { createSessionStack } from "./session-stack.js";
import { requireRecentAuthentication } from "./step-up.js";
import { createTeamRouter } from "./team/routes.js";

/**
 * The pages need nothing but their own stylesheet, forms and the passkey scripts served from this origin:
 * no inline script, font, frame or inline style. Every response carries it (JSON too).
 */
const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'none'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  scriptSrc: ["'self'"],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
};

/** The request path: mounts middleware and routers over built services; does no I/O. */
export function createApp(config: Config, services: Services): Express {
  const { logger, cache, redis, limits, metrics, accounts, audits, events } = services;
  const sessionStack = createSessionStack(services);

  const app = express();
  installPassportRequest(app.request, services.passport);
  app.disable("x-powered-by");
  app.set("trust proxy", config.trustProxy);
  app.set("query parser", "simple");
  app.set("etag", false);

  app.use(createRequestLogger(logger));
  app.use(events.context());
  app.use(warnOnUntrustedForwarding({ trustProxy: config.trustProxy, logger }));
  app.use(helmet({ contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY } }));
  app.use((_req, res, next) => {
    // Every API answer depends on who asks; nothing may be stored by a shared cache.
    res.setHeader("Cache-Control", "no-store");
    next();
  });

  app.use(createHttpMetrics(app, metrics));

  app.use(createAssetsRouter());
  app.use(createOpenApiRouter({ config }));
  // Admin keys are guessed at most RATE_LIMIT_ADMIN_KEY_LIMIT times per address, on every route that takes one.
  const adminAuth = createAdminAuth(config.adminApiKey, limits.adminKey);
  app.use(
    "/health",
    createHealthRouter({ health: services.health, adminAuth, detailsPublic: config.healthDetailsPublic }),
  );
  // Probes skip the global limit, so no /health path may reach the session stack: unknown ones end here.
  app.use("/health", (_req, _res, next) => next(new HttpError("not_found")));
  const cacheRedis = services.cacheRedis ?? redis;
  app.use(
    "/metrics",
    createMetricsRouter({
      config,
      metrics,
      redis,
      cacheRedis,
      audits,
      queues: [services.mailQueue],
      adminAuth,
    }),
  );
  app.use(sessionStack.front); // bearer token → prefetch → global rate limit → CSRF
  // Operators use the bearer token, never a login: no session is read or created for these.
  app.use("/api/cache", createCacheAdminRouter({ cache, adminAuth }));
  app.use(sessionStack.session);
  app.use(requireSecondFactorSetup(config));
  app.use("/api", limits.api);

  app.use("/auth", createForwardAuthRouter({ config }));
  app.use("/auth", createActivityRouter({ events }));
  const returnTo = createReturnTo(config);
  app.use(
    "/auth",
    createAuthRouter({
      config,
      accounts,
      recovery: services.recovery,
      limits,
      returnTo,
      secondFactors: services.secondFactors,
    }),
  );
  app.use("/auth", createDeviceRouter({ config, device: services.deviceSignIn, limits }));
  app.use("/auth", createPersonalTokensRouter({ config, accounts, tokens: services.personalTokens }));
  app.use("/auth", createEmailChangeRouter({ config, accounts, emailChange: services.emailChange, limits }));
  app.use(
    "/auth",
    createAccountDataRouter({
      config,
      exports: services.exports,
      deletion: services.deletion,
      stepUp: requireRecentAuthentication({ config, accounts }),
    }),
  );
  const adminGuard = requireAdmin({ config, adminAuth, groups: services.userCache.groups, accounts });
  const adminApiGuard = requireAdmin({
    config,
    adminAuth,
    groups: services.userCache.groups,
    accounts,
    tokens: true,
  });
  // Behind the global limit like every route; admins are few, so no per-user budget of their own.
  app.use(
    "/admin/api",
    createAdminApiRouter({
      guard: adminApiGuard,
      ...services.admin,
      sessions: services.sessions,
      events,
      identities: services.oauth,
    }),
  );
  app.use("/admin", createConsolePages({ ...services, guard: adminGuard }));
  app.use("/auth", createOAuthRouter({ config, oauth: services.oauth, limits, returnTo }));
  if (config.mfa.mode !== "off") {
    app.use("/auth", createMfaRouter({ config, secondFactors: services.secondFactors, limits, returnTo }));
    app.use("/auth", createPasskeysRouter({ config, passkeys: services.passkeys, limits, returnTo }));
  }
  app.use("/api/models", createModelsRouter({ config, cache, openai: services.openai, logger }));
  app.use("/api", createTeamRouter(services));
  app.use(createDevicePages({ config, accounts, device: services.deviceSignIn, limits }));
  app.use(
    createPagesRouter({
      config,
      accounts,
      recovery: services.recovery,
      emailChange: services.emailChange,
      limits,
      returnTo,
      events,
      deletion: services.deletion,
      personalTokens: services.personalTokens,
      secondFactors: config.mfa.mode === "off" ? undefined : services.secondFactors,
      passkeys: config.mfa.mode === "off" ? undefined : services.passkeys,
      oauth: services.oauth,
    }),
  );

  app.use(notFoundHandler());
  const handleError = errorHandler(logger, renderHtmlError);
  app.use(handleError);
  useFinalErrorHandler(app, handleError);
  return app;
}
