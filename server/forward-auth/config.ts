import { type ForwardAuthRule, parseRules } from "./rules.js";

/** Forward auth (`GET /auth/verify`) and the safe return after login. */
export interface ForwardAuthConfig {
  /** Origins `next` may point at after login: APP_ORIGIN plus FORWARD_AUTH_ALLOWED_ORIGINS. */
  returnOrigins: string[];
  /** Empty: every valid session passes. Otherwise the most specific matching rule decides. */
  rules: ForwardAuthRule[];
  /** Where a proxy sends an anonymous browser: a path on the proxied host or an absolute URL. */
  loginUrl: string;
  headers: { userId: string; email: string; sessionId: string };
  /** The session cookie's Domain attribute; unset: host-only. */
  cookieDomain?: string;
}

interface ForwardAuthVariables {
  FORWARD_AUTH_ALLOWED_ORIGINS?: string;
  FORWARD_AUTH_RULES?: string;
  FORWARD_AUTH_LOGIN_URL?: string;
  FORWARD_AUTH_HEADER_PREFIX: string;
  COOKIE_DOMAIN?: string;
  SESSION_COOKIE_NAME?: string;
}

/** The forward-auth section of the configuration; every problem is pushed to `problems`. */
export function parseForwardAuth(
  raw: ForwardAuthVariables,
  ctx: { cookieSecure: boolean; appOrigins: string[] },
  problems: string[],
): ForwardAuthConfig {
  const extra = (raw.FORWARD_AUTH_ALLOWED_ORIGINS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((entry) => {
      const origin = bareOrigin(entry);
      if (origin) return [origin];
      problems.push(
        `FORWARD_AUTH_ALLOWED_ORIGINS: each entry must be an origin like https://app.example.com (got "${entry.slice(0, 80)}")`,
      );
      return [];
    });

  const loginUrl = raw.FORWARD_AUTH_LOGIN_URL ?? "/login";
  if (!/^\/(?![/\\])/.test(loginUrl) && !bareOrigin(loginUrl, true)) {
    problems.push(
      `FORWARD_AUTH_LOGIN_URL: must be a path like /login or an http(s) URL (got "${loginUrl.slice(0, 80)}")`,
    );
  }

  const rules = parseRules(raw.FORWARD_AUTH_RULES ?? "", problems);

  const cookieName = raw.SESSION_COOKIE_NAME ?? (ctx.cookieSecure ? "__Host-sid" : "sid");
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
    headers: { userId: `${prefix}User-Id`, email: `${prefix}User-Email`, sessionId: `${prefix}Session-Id` },
    cookieDomain: raw.COOKIE_DOMAIN?.replace(/^\./, "").toLowerCase(),
  };
}

/** `https://host[:port]` for an origin (or, with `withPath`, any http(s) URL without credentials). */
function bareOrigin(value: string, withPath = false): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (!/^https?:$/.test(url.protocol) || url.username || url.password) return undefined;
  if (!withPath && ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash))
    return undefined;
  return url.origin;
}
