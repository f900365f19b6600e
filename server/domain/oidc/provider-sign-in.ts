import * as client from "openid-client";
import { Counter, type Registry } from "prom-client";
import { canonicalEmail } from "../../../shared/email.js";
import type { Config } from "../../config/config.js";
import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";
import type { AccountContext } from "../auth/account-context.js";
import type { BeginSignIn, SecondFactorMethod } from "../auth/begin-sign-in.js";
import type { UserRecord, UserRepository } from "../auth/user-repository.js";
import type { SecurityEvents } from "../security/events.js";
import { createFlowCookies } from "./flow-cookie.js";
import type { Flow, FlowStore } from "./flow-store.js";
import type { Identities, Identity, ProviderAccount } from "./identities.js";
import { linkDecision } from "./linking.js";
import type { ProviderClient } from "./oidc-client.js";

export interface ProviderSignIn {
  /** The configured providers' names, in order. */
  readonly providers: string[];
  /** A new flow at `provider`: the URL to send the browser to and the cookie that binds the flow to it. */
  start(
    provider: string,
    options: { next?: string; linkUserId?: string },
  ): Promise<{ url: string; cookie: string }>;
  /**
   * The provider's answer (the callback's query) for the flow `cookie` names, used up whatever happens.
   * Ends in a session for the account the identity belongs to, a new account, or a link to the signed-in
   * account (linking.ts decides); `next` from the flow. The provider is a first step like a password: an
   * account with a second factor gets a pending sign-in on this browser instead (`mfaRequired`).
   */
  finish(
    provider: string,
    query: URLSearchParams,
    cookie: string | undefined,
    context: AccountContext,
  ): Promise<ProviderOutcome & { next?: string }>;
  /** The user's linked identities, oldest first. */
  linked(userId: string): Promise<Identity[]>;
  /** Unlinks one of the user's identities, unless it is their last way in (identities.ts). */
  unlink(userId: string, provider: string, subject: string): Promise<void>;
}

export type Outcome = "signed_in" | "created" | "linked" | "mfa_required";

/** Where a provider's callback ends: a session, or a second factor still to give. */
export type ProviderOutcome =
  | { user: Express.User; outcome: Exclude<Outcome, "mfa_required">; mfaRequired?: undefined }
  | { mfaRequired: true; methods: SecondFactorMethod[]; outcome: "mfa_required" };

/** The provider's name for a refusal, as the outcome label of `oauth_sign_ins_total`. */
const OUTCOME_OF: Record<string, string> = {
  oauth_flow_expired: "expired",
  oauth_state_mismatch: "state_mismatch",
  oauth_denied: "denied",
  oauth_provider_error: "provider_error",
  oauth_provider_unavailable: "provider_unavailable",
  oauth_email_unverified: "email_unverified",
  oauth_link_required: "link_required",
  identity_taken: "identity_taken",
  account_disabled: "account_disabled",
};

/** Sign-in at a provider, from the redirect to the session: flows, checks, and the linking rules. */
export function createProviderSignIn(deps: {
  config: Config;
  clients: ProviderClient[];
  flows: FlowStore;
  identities: Identities;
  users: Pick<UserRepository, "findByEmail" | "findById">;
  beginSignIn: BeginSignIn;
  events: Pick<SecurityEvents, "record">;
  logger: Logger;
  registry: Registry;
  now?: () => number;
}): ProviderSignIn {
  const { config, flows, identities, users, beginSignIn, events, logger } = deps;
  const now = deps.now ?? Date.now;
  const byName = new Map(deps.clients.map((c) => [c.name, c]));
  const cookies = createFlowCookies(config.session.secrets);
  const counter = new Counter({
    name: "oauth_sign_ins_total",
    help: "Sign-ins at a provider that came back, by provider and outcome",
    labelNames: ["provider", "outcome"],
    registers: [deps.registry],
  });
  const clientFor = (name: string) => {
    const found = byName.get(name);
    if (!found) throw new HttpError("oauth_unknown_provider");
    return found;
  };

  const link = async (userId: string, account: ProviderAccount, by: "owner" | "trusted") => {
    await identities.link(userId, account);
    events.record("identity_linked", { userId, provider: account.provider });
    logger.info({ component: "oauth", userId, provider: account.provider, by }, "identity linked");
  };

  /** A known account signs in through the same second-factor decision as a password login. */
  const begin = async (
    record: UserRecord,
    context: AccountContext,
    method: { amr: ["fed"]; provider: string },
  ): Promise<ProviderOutcome> => {
    const started = await beginSignIn.beginSignIn(record, context, method);
    if (started.mfaRequired) return { ...started, outcome: "mfa_required" };
    return { user: started.user, outcome: "signed_in" };
  };

  const settle = async (
    flow: Flow,
    account: ProviderAccount,
    context: AccountContext,
  ): Promise<ProviderOutcome> => {
    const known = await identities.use(account.provider, account.subject);
    const email = account.email ? canonicalEmail(account.email) : undefined;
    const holder = email?.ok ? await users.findByEmail(email.email) : undefined;
    const decision = linkDecision({
      flow,
      signedInUserId: context.session.user?.id,
      known: known?.user.id,
      email: email?.ok ? email.email : undefined,
      emailVerified: account.emailVerified,
      holder,
      trusted: config.oidc.trustedForLinking.includes(account.provider),
    });
    const method = { amr: ["fed"] as ["fed"], provider: account.provider };
    switch (decision.action) {
      case "refuse":
        throw new HttpError(decision.code);
      case "sign_in":
        return begin((known as { user: UserRecord }).user, context, method);
      case "link_to_owner": {
        await link(decision.userId, account, "owner");
        return { user: context.session.user as Express.User, outcome: "linked" as const };
      }
      case "link_trusted": {
        await link((holder as UserRecord).id, account, "trusted");
        return begin(holder as UserRecord, context, method);
      }
      case "create": {
        const created = await identities.createUser(decision.email, account).catch((err: unknown) => {
          // The address was registered meanwhile: its owner links it like any existing account.
          if (err instanceof HttpError && err.code === "email_taken")
            throw new HttpError("oauth_link_required");
          throw err;
        });
        // A new account has no second factor yet: this signs it in.
        const started = await beginSignIn.beginSignIn(created, context, { ...method, newAccount: true });
        if (started.mfaRequired) return { ...started, outcome: "mfa_required" };
        return { user: started.user, outcome: "created" };
      }
    }
  };

  return {
    providers: deps.clients.map((c) => c.name),

    async start(provider, options) {
      const found = clientFor(provider);
      const flow: Flow = {
        provider,
        state: client.randomState(),
        nonce: client.randomNonce(),
        codeVerifier: client.randomPKCECodeVerifier(),
        next: options.next,
        linkUserId: options.linkUserId,
        createdAt: now(),
      };
      const url = await found.authorizationUrl(flow);
      const { cookie, key } = cookies.issue();
      await flows.put(key, flow, config.oidc.flowTtlSeconds);
      return { url: url.href, cookie };
    },

    linked: (userId) => identities.list(userId),

    async unlink(userId, provider, subject) {
      await identities.unlink(userId, provider, subject);
      events.record("identity_unlinked", { userId, provider });
      logger.info({ component: "oauth", userId, provider }, "identity unlinked");
    },

    async finish(provider, query, cookie, context) {
      const found = clientFor(provider);
      try {
        const key = cookies.verify(cookie);
        const flow = key ? await flows.take(key) : undefined;
        // The record's own clock as well as its TTL: a store that kept it longer still refuses it.
        if (!flow || now() - flow.createdAt > config.oidc.flowTtlSeconds * 1000) {
          throw new HttpError("oauth_flow_expired");
        }
        if (flow.provider !== provider || query.get("state") !== flow.state) {
          throw new HttpError("oauth_state_mismatch");
        }
        const account = await found.finish(query, flow);
        const result = await settle(flow, account, context);
        counter.inc({ provider, outcome: result.outcome });
        return { ...result, next: flow.next };
      } catch (err) {
        const code = err instanceof HttpError ? err.code : undefined;
        counter.inc({ provider, outcome: (code && OUTCOME_OF[code]) ?? "error" });
        if (err instanceof HttpError && err.status >= 500) {
          const cause =
            err.cause instanceof Error ? { name: err.cause.name, message: err.cause.message } : undefined;
          logger.warn(
            { component: "oauth", provider, code: err.code, err: cause },
            "provider sign-in failed",
          );
        }
        throw err;
      }
    },
  };
}
