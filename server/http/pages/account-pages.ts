import { type Request, type RequestHandler, type Response, Router } from "express";
import { emailOnlySchema, passwordChangeSchema, personalTokenSchema } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { AccountService } from "../../domain/auth/account-service.js";
import type { EmailChange } from "../../domain/auth/email-change.js";
import type { PersonalTokens } from "../../domain/auth/personal-tokens.js";
import type { Passkeys } from "../../domain/mfa/passkeys.js";
import type { SecondFactors } from "../../domain/mfa/second-factors.js";
import type { ProviderSignIn } from "../../domain/oidc/provider-sign-in.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import type { SecurityEvents } from "../../domain/security/events.js";
import { HttpError } from "../../lib/errors.js";
import { accountContext, sessionPort } from "../request-context.js";
import { publicActivity } from "../routes/activity.js";
import { askAgain, recentAuthenticationPage } from "../step-up.js";
import { check } from "../validate.js";
import { fieldOf, formBody, isRateLimited, rateLimitMessage, send, text } from "./forms.js";
import { tokensSection } from "./token-views.js";
import { accountPage, type Errors, NOTICES } from "./views.js";

/**
 * `/account`: the user's sessions and activity, the email and password forms, signing devices out, and
 * personal access tokens.
 */
export function createAccountPages(deps: {
  config: Config;
  accounts: AccountService;
  emailChange: EmailChange;
  limits: Pick<ProductRateLimits, "recovery">;
  events?: Pick<SecurityEvents, "recent">;
  personalTokens: PersonalTokens;
  /** Both absent with MFA=off: no "Sign-in methods" section. */
  secondFactors?: Pick<SecondFactors, "status">;
  passkeys?: Pick<Passkeys, "list" | "remove">;
  oauth?: Pick<ProviderSignIn, "providers" | "linked" | "unlink">;
}): Router {
  const { config, accounts, emailChange, limits, events, personalTokens, secondFactors, passkeys, oauth } =
    deps;
  const router = Router();
  const form = formBody();

  const renderAccount = async (
    req: Request,
    res: Response,
    status: number,
    extra: {
      errors?: Errors;
      alert?: string;
      notice?: string;
      identityAlert?: string;
      tokenCreated?: { name: string; token: string };
      tokenError?: string;
      newEmail?: string;
    } = {},
  ) => {
    const user = req.user as Express.User;
    const sessions = await accounts.listSessions(sessionPort(req, res, config));
    // The page works without its activity section: a failed read only hides it.
    const activity = await events
      ?.recent(user.id)
      .then((list) => list.map(publicActivity))
      .catch(() => undefined);
    const identities = await oauth
      ?.linked(user.id)
      .then((list) => list.map((i) => ({ ...i, linkedAt: i.createdAt.toISOString() })))
      .catch(() => undefined);
    const emailVerified = config.mail.emailVerification === "off" ? undefined : (user.emailVerified ?? false);
    const tokens = tokensSection({
      tokens: await personalTokens.list(user),
      scopes: config.tokens.scopes,
      maxDays: config.tokens.maxDays,
      created: extra.tokenCreated,
      error: extra.tokenError,
    });
    const session = sessionPort(req, res, config);
    const methods =
      secondFactors && passkeys
        ? { ...(await secondFactors.status(session)), passkeys: await passkeys.list(session) }
        : undefined;
    const providers = oauth?.providers ?? [];
    send(
      res,
      status,
      accountPage({
        email: user.email,
        sessions,
        activity,
        emailVerified,
        identities,
        providers,
        tokens,
        methods,
        ...extra,
      }),
    );
  };

  router.get("/account", async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    const done = typeof req.query.done === "string" ? req.query.done : undefined;
    // Only fixed messages: nothing from the query string is echoed.
    await renderAccount(req, res, 200, { notice: done ? NOTICES.get(done) : undefined });
  });

  router.post("/account/password", form, async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    const input = check(passwordChangeSchema, req.body ?? {});
    if (!input.ok) return renderAccount(req, res, 400, { errors: input.problems });
    try {
      await accounts.changePassword(input.value, accountContext(req, res, config));
    } catch (err) {
      if (isRateLimited(err)) {
        if (err.retryAfter !== undefined) res.setHeader("Retry-After", String(err.retryAfter));
        return renderAccount(req, res, 429, { alert: rateLimitMessage(err, "password attempts") });
      }
      const field = err instanceof HttpError ? fieldOf(err) : undefined;
      if (!(err instanceof HttpError) || !field || err.status >= 500) throw err;
      return renderAccount(req, res, err.status, { errors: { [field]: err.message } });
    }
    res.redirect(303, "/account?done=password");
  });

  const recentlyAuthenticated = recentAuthenticationPage({ config, accounts }, "/account");

  router.post("/account/email", form, recentlyAuthenticated, limits.recovery, async (req, res) => {
    const user = req.user as Express.User;
    const newEmail = text(req.body?.email);
    const input = check(emailOnlySchema, req.body ?? {});
    if (!input.ok) return renderAccount(req, res, 400, { errors: input.problems, newEmail });
    try {
      await emailChange.request(user, input.value.email);
    } catch (err) {
      const field = err instanceof HttpError ? fieldOf(err) : undefined;
      if (!(err instanceof HttpError) || !field || err.status >= 500) throw err;
      return renderAccount(req, res, err.status, { errors: { [field]: err.message }, newEmail });
    }
    res.redirect(303, "/account?done=email-link-sent");
  });

  router.post("/account/tokens", form, recentlyAuthenticated, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const input = check(personalTokenSchema, {
      name: body.name,
      scopes: [body.scopes ?? []].flat(),
      expiresInDays: Number(body.expiresInDays),
      endsWithPassword: body.endsWithPassword === "true",
    });
    if (!input.ok) return renderAccount(req, res, 400, { tokenError: Object.values(input.problems)[0] });
    try {
      const { token, view } = await personalTokens.create(req.user as Express.User, input.value);
      await renderAccount(req, res, 201, { tokenCreated: { name: view.name, token } });
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      await renderAccount(req, res, err.status, { tokenError: err.message });
    }
  });

  router.post("/account/tokens/:id/revoke", form, async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    const found = await personalTokens.revoke(req.user, String(req.params.id));
    res.redirect(303, found ? "/account?done=token" : "/account?done=token-gone");
  });

  router.post("/account/sessions/revoke-others", form, async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    await accounts.revokeOtherSessions(sessionPort(req, res, config));
    res.redirect(303, "/account?done=others");
  });

  router.post("/account/sessions/:id/revoke", form, async (req, res) => {
    if (!req.user) return res.redirect(303, "/login");
    try {
      await accounts.revokeSession(sessionPort(req, res, config), String(req.params.id));
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) return res.redirect(303, "/account?done=gone");
      throw err;
    }
    // Signing out this very device is a logout.
    res.redirect(303, req.session ? "/account?done=session" : "/login");
  });

  if (passkeys) {
    router.post("/account/passkeys/:id/remove", form, async (req, res) => {
      if (!req.user) return res.redirect(303, "/login");
      try {
        await passkeys.remove(sessionPort(req, res, config), String(req.params.id));
      } catch (err) {
        if (askAgain(err, res, "/account")) return;
        if (err instanceof HttpError && err.status === 404) return res.redirect(303, "/account");
        throw err;
      }
      res.redirect(303, "/account?done=passkey-removed");
    });
  }
  router.post("/account/identities/unlink", form, async (req, res) => {
    if (!req.user || !oauth) return res.redirect(303, "/login");
    try {
      await oauth.unlink(req.user.id, String(req.body?.provider ?? ""), String(req.body?.subject ?? ""));
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      return renderAccount(req, res, err.status, { identityAlert: err.message });
    }
    res.redirect(303, "/account?done=unlinked");
  });

  return router;
}
