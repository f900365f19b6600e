import { type Request, type Response, Router } from "express";
import type { Config } from "../../config/config.js";
import type { ProviderSignIn } from "../../domain/oidc/provider-sign-in.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import { readCookie } from "../../lib/cookies.js";
import { HttpError } from "../../lib/errors.js";
import { formBody } from "../pages/forms.js";
import { SECOND_FACTOR_PATH } from "../pages/mfa-pages.js";
import { accountContext, saveSession } from "../request-context.js";

const FLOW_PATH = "/auth/oauth";

/** The flow cookie's name: `__Host-` needs path `/`, so a Secure deployment uses `__Secure-`. */
const flowCookieName = (config: Config) =>
  config.session.cookieSecure ? "__Secure-oauth-flow" : "oauth-flow";

/**
 * `GET /auth/oauth/:provider` (sign in), `POST /auth/oauth/:provider/link` (link to the signed-in account)
 * and `GET /auth/oauth/:provider/callback`; the signed-in user's identities (`GET /auth/identities`,
 * `DELETE /auth/identities/:provider/:subject`). The flow cookie is SameSite=Lax: the provider sends the browser
 * back with a top-level GET from its own site, which a Strict cookie would not reach.
 */
export function createOAuthRouter(deps: {
  config: Config;
  oauth: ProviderSignIn;
  limits: Pick<ProductRateLimits, "login">;
  returnTo: (req: Request, next: unknown) => string | undefined;
}): Router {
  const { config, oauth, limits, returnTo } = deps;
  const router = Router();
  const cookieOptions = {
    path: FLOW_PATH,
    httpOnly: true,
    secure: config.session.cookieSecure,
    sameSite: "lax" as const,
  };

  const redirectToProvider = async (
    res: Response,
    provider: string,
    options: { next?: string; linkUserId?: string },
  ) => {
    const { url, cookie } = await oauth.start(provider, options);
    res.cookie(flowCookieName(config), cookie, {
      ...cookieOptions,
      maxAge: config.oidc.flowTtlSeconds * 1000,
    });
    res.redirect(options.linkUserId ? 303 : 302, url);
  };

  router.get("/oauth/:provider", limits.login, async (req, res) => {
    await redirectToProvider(res, String(req.params.provider), { next: returnTo(req, req.query.next) });
  });

  router.post("/oauth/:provider/link", formBody(), limits.login, async (req, res) => {
    if (!req.user) throw new HttpError("unauthenticated");
    const next = returnTo(req, req.body?.next) ?? "/account";
    await redirectToProvider(res, String(req.params.provider), { next, linkUserId: req.user.id });
  });

  router.get("/identities", async (req, res) => {
    if (!req.user) throw new HttpError("unauthenticated");
    const list = await oauth.linked(req.user.id);
    res.json({
      identities: list.map((i) => ({
        provider: i.provider,
        subject: i.subject,
        email: i.email,
        linkedAt: i.createdAt.toISOString(),
        lastUsedAt: i.lastUsedAt.toISOString(),
      })),
    });
  });

  router.delete("/identities/:provider/:subject", async (req, res) => {
    if (!req.user) throw new HttpError("unauthenticated");
    await oauth.unlink(req.user.id, String(req.params.provider), String(req.params.subject));
    res.status(204).end();
  });

  router.get("/oauth/:provider/callback", async (req, res) => {
    const cookie = readCookie(req.headers.cookie, flowCookieName(config));
    // Used up whatever the outcome: a retry starts a new flow.
    res.clearCookie(flowCookieName(config), cookieOptions);
    const query = new URL(req.originalUrl, "http://callback.invalid").searchParams;
    const result = await oauth.finish(
      String(req.params.provider),
      query,
      cookie,
      accountContext(req, res, config),
    );
    // A sign-in, or one waiting for its second factor, stored before the redirect is sent.
    await saveSession(req);
    if (result.mfaRequired) {
      // A browser gives the second factor on the login page's second step; an API client posts it to
      // `POST /auth/mfa/verify` with this session's cookie.
      if (req.accepts(["html", "json"]) === "json") {
        return void res.json({ mfaRequired: true, methods: result.methods });
      }
      const next = result.next ? `?next=${encodeURIComponent(result.next)}` : "";
      return res.redirect(302, `${SECOND_FACTOR_PATH}${next}`);
    }
    res.redirect(302, result.next ?? "/account");
  });

  return router;
}
