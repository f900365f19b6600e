import { z } from "zod";
import { canonicalAbsoluteUrl, canonicalNext, canonicalOrigin } from "../lib/canonical-url.js";
import { type ForwardAuthRule, namesAddresses, parseRules } from "./forward-auth-rules.js";
import type { EmailVerificationMode } from "./mail.js";
import { nonEmpty, type Report, type Values } from "./variables.js";

/** Mounted under /auth; the global per-address limiter skips it (the caller is the proxy). */
export const VERIFY_PATH = "/auth/verify";

export const FORWARD_AUTH_VARIABLES = {
  FORWARD_AUTH_ALLOWED_ORIGINS: nonEmpty.optional(), // more origins `next` may return to after login, besides APP_ORIGIN
  FORWARD_AUTH_RULES: nonEmpty.optional(), // [mfa:]host/path-prefix[=emails|@domains|group:NAMEs] patterns sessions may reach through /auth/verify (mfa: needs a second factor); unset: all
  FORWARD_AUTH_LOGIN_URL: nonEmpty.optional(), // login page a proxy sends browsers to (default /login on the proxied host)
  FORWARD_AUTH_HEADER_PREFIX: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,30}-$/, "must be a header name prefix ending in '-', e.g. X-Auth-")
    .default("X-Auth-"), // prefix of the identity headers /auth/verify answers with
  COOKIE_DOMAIN: z
    .string()
    .regex(/^\.?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}$/i, "must be a domain like example.com")
    .optional(), // share the session cookie with subdomains (then no __Host- cookie name)
};

/** Forward auth (`GET /auth/verify`) and the safe return after login. */
export interface ForwardAuthConfig {
  /** Origins `next` may point at after login: APP_ORIGIN plus FORWARD_AUTH_ALLOWED_ORIGINS. */
  returnOrigins: string[];
  /** Empty: every valid session passes. Otherwise the most specific matching rule decides. */
  rules: ForwardAuthRule[];
  /** Where a proxy sends an anonymous browser: a path on the proxied host or an absolute URL. */
  loginUrl: string;
  headers: {
    userId: string;
    email: string;
    emailVerified: string;
    sessionId: string;
    tokenId: string;
    scopes: string;
    groups: string;
    provider: string;
    mfa: string;
  };
  /** The session cookie's Domain attribute; unset: host-only. */
  cookieDomain?: string;
}

/** The forward-auth section of the configuration (server/config/ shows how a section works). */
export function forwardAuthConfig(
  v: Values<typeof FORWARD_AUTH_VARIABLES>,
  deps: { cookieName: string; appOrigins: string[]; emailVerification: EmailVerificationMode },
  report: Report,
): { forwardAuth: ForwardAuthConfig } {
  return { forwardAuth: parseForwardAuth(v, deps, report.problems) };
}

function parseForwardAuth(
  raw: Values<typeof FORWARD_AUTH_VARIABLES>,
  ctx: { cookieName: string; appOrigins: string[]; emailVerification: EmailVerificationMode },
  problems: string[],
): ForwardAuthConfig {
  const extra = (raw.FORWARD_AUTH_ALLOWED_ORIGINS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((entry) => {
      const origin = canonicalOrigin(entry);
      if (origin) return [origin];
      problems.push(
        `FORWARD_AUTH_ALLOWED_ORIGINS: each entry must be an origin like https://app.example.com (got "${entry.slice(0, 80)}")`,
      );
      return [];
    });

  const loginUrl = raw.FORWARD_AUTH_LOGIN_URL ?? "/login";
  if (!canonicalNext(loginUrl, []) && !canonicalAbsoluteUrl(loginUrl)) {
    problems.push(
      `FORWARD_AUTH_LOGIN_URL: must be a path like /login or an http(s) URL (got "${loginUrl.slice(0, 80)}")`,
    );
  }

  const rules = parseRules(raw.FORWARD_AUTH_RULES ?? "", problems);
  // Such rules admit confirmed addresses only, and with verification off no new address is confirmed.
  if (namesAddresses(rules) && ctx.emailVerification === "off") {
    problems.push(
      "FORWARD_AUTH_RULES: rules naming emails or @domains admit only confirmed addresses, and EMAIL_VERIFICATION=off confirms none; set EMAIL_VERIFICATION=optional or required (or name hosts and paths only)",
    );
  }

  const cookieName = ctx.cookieName;
  if (raw.COOKIE_DOMAIN && /^__Host-/i.test(cookieName)) {
    problems.push(
      `COOKIE_DOMAIN: browsers refuse a __Host- cookie that carries a Domain; set SESSION_COOKIE_NAME too (e.g. __Secure-sid) (the cookie name is "${cookieName}")`,
    );
  }

  const prefix = raw.FORWARD_AUTH_HEADER_PREFIX;
  return {
    returnOrigins: [...new Set([...ctx.appOrigins, ...extra])],
    rules,
    loginUrl,
    headers: {
      userId: `${prefix}User-Id`,
      email: `${prefix}User-Email`,
      emailVerified: `${prefix}Email-Verified`,
      sessionId: `${prefix}Session-Id`,
      tokenId: `${prefix}Token-Id`,
      scopes: `${prefix}Scopes`,
      mfa: `${prefix}MFA`,
      groups: `${prefix}Groups`,
      provider: `${prefix}Provider`,
    },
    cookieDomain: raw.COOKIE_DOMAIN?.replace(/^\./, "").toLowerCase(),
  };
}
