import { int, nonEmpty, type Report, secret, type Values } from "./variables.js";

export const OIDC_VARIABLES = {
  OIDC_TRUSTED_FOR_LINKING: nonEmpty.optional(), // providers (comma-separated names) whose verified email may link to an existing account without its owner signing in
  OIDC_FLOW_TTL_SECONDS: int(60, 3600).default(600), // how long a browser has to come back from the provider
  OIDC_CLOCK_TOLERANCE_SECONDS: int(0, 300).default(30), // leeway for the ID token's exp, iat and nbf against this server's clock
  OIDC_TIMEOUT_MS: int(500, 60_000).default(5000), // per request to a provider (discovery, token, keys, userinfo)
  GITHUB_CLIENT_ID: nonEmpty.optional(), // a GitHub OAuth app's client id: enables sign-in with GitHub (/auth/oauth/github)
  GITHUB_CLIENT_SECRET: secret(nonEmpty.optional()), // its client secret; comma-separated: the next is tried when one is refused
  GITHUB_URL: nonEmpty.default("https://github.com"), // GitHub's web origin (GitHub Enterprise Server: yours)
  GITHUB_API_URL: nonEmpty.default("https://api.github.com"), // GitHub's API origin (GitHub Enterprise Server: https://HOST/api/v3)
};

export interface GithubConfig {
  clientId: string;
  clientSecrets: string[];
  /** Where the browser signs in (`/login/oauth/authorize`) and the code is redeemed. */
  webUrl: string;
  /** `/user` and `/user/emails`. */
  apiUrl: string;
}

function parseGithub(
  v: Values<typeof OIDC_VARIABLES>,
  isProduction: boolean,
  report: Report,
): GithubConfig | undefined {
  if (!v.GITHUB_CLIENT_ID && !v.GITHUB_CLIENT_SECRET) return undefined;
  const secrets = (v.GITHUB_CLIENT_SECRET ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (!v.GITHUB_CLIENT_ID) report.problems.push("GITHUB_CLIENT_ID: required with GITHUB_CLIENT_SECRET");
  if (secrets.length === 0) report.problems.push("GITHUB_CLIENT_SECRET: required with GITHUB_CLIENT_ID");
  const origin = (name: string, value: string) => {
    try {
      const url = new URL(value);
      if (url.protocol === "https:" || (url.protocol === "http:" && loopback(url) && !isProduction)) {
        return value.replace(/\/+$/, "");
      }
    } catch {
      // reported below
    }
    report.problems.push(`${name}: must be an https:// URL (http:// only for localhost outside production)`);
    return undefined;
  };
  const webUrl = origin("GITHUB_URL", v.GITHUB_URL);
  const apiUrl = origin("GITHUB_API_URL", v.GITHUB_API_URL);
  if (!v.GITHUB_CLIENT_ID || secrets.length === 0 || !webUrl || !apiUrl) return undefined;
  return { clientId: v.GITHUB_CLIENT_ID, clientSecrets: secrets, webUrl, apiUrl };
}

/** Issuers of the providers known by name: setting `OIDC_<NAME>_CLIENT_ID` is enough for these. */
const PRESETS: Record<string, (env: Record<string, string | undefined>) => string> = {
  GOOGLE: () => "https://accounts.google.com",
  GITLAB: () => "https://gitlab.com",
  // Entra ID: one tenant's issuer, or the multi-tenant endpoint (the issuer in its tokens names the tenant).
  MICROSOFT: (env) => `https://login.microsoftonline.com/${env.OIDC_MICROSOFT_TENANT ?? "common"}/v2.0`,
};

const PER_PROVIDER = /^OIDC_([A-Z0-9_]+?)_(ISSUER|CLIENT_ID|CLIENT_SECRET|SCOPES|TENANT)$/;
const NAME = /^[A-Z][A-Z0-9]{0,30}$/;

export interface OidcProviderConfig {
  /** The name in URLs and logs: `google` for OIDC_GOOGLE_*. */
  name: string;
  issuer: string;
  clientId: string;
  /** The first is sent; the next ones are tried when the provider refuses it (a rotation in progress). */
  clientSecrets: string[];
  scopes: string;
}

function loopback(url: URL): boolean {
  return url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";
}

function parseProvider(
  env: Record<string, string | undefined>,
  upper: string,
  isProduction: boolean,
  report: Report,
): OidcProviderConfig | undefined {
  const at = (suffix: string) => env[`OIDC_${upper}_${suffix}`];
  const problems = report.problems.length;
  if (!NAME.test(upper)) {
    report.problems.push(`OIDC_${upper}_*: a provider name is a letter then up to 30 letters or digits`);
  }
  const issuer = at("ISSUER") ?? PRESETS[upper]?.(env);
  const clientId = at("CLIENT_ID");
  const secrets = (at("CLIENT_SECRET") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const scopes = at("SCOPES") ?? "openid email profile";
  if (!issuer) report.problems.push(`OIDC_${upper}_ISSUER: required (the provider's issuer URL)`);
  if (!clientId) report.problems.push(`OIDC_${upper}_CLIENT_ID: required`);
  if (secrets.length === 0) report.problems.push(`OIDC_${upper}_CLIENT_SECRET: required`);
  if (!scopes.split(/\s+/).includes("openid")) {
    report.problems.push(`OIDC_${upper}_SCOPES: must include openid (got "${scopes.slice(0, 80)}")`);
  }
  if (at("TENANT") !== undefined && upper !== "MICROSOFT") {
    report.problems.push(`OIDC_${upper}_TENANT: only the MICROSOFT provider takes a tenant`);
  }
  if (issuer) {
    let url: URL | undefined;
    try {
      url = new URL(issuer);
    } catch {
      report.problems.push(`OIDC_${upper}_ISSUER: is not a URL`);
    }
    // Tokens are only as trustworthy as the channel they came over; plain HTTP only reaches this machine.
    if (url && url.protocol !== "https:" && !(url.protocol === "http:" && loopback(url) && !isProduction)) {
      report.problems.push(
        `OIDC_${upper}_ISSUER: must be https:// (http:// only for localhost outside production)`,
      );
    }
  }
  if (report.problems.length > problems) return undefined;
  return {
    name: upper.toLowerCase(),
    issuer: issuer as string,
    clientId: clientId as string,
    clientSecrets: secrets,
    scopes,
  };
}

/** Sign-in with OpenID Connect providers, each named by its `OIDC_<NAME>_*` variables. */
export function oidcConfig(
  v: Values<typeof OIDC_VARIABLES>,
  env: Record<string, string | undefined>,
  deps: { isProduction: boolean; publicUrl: string },
  report: Report,
) {
  const names = new Set<string>();
  for (const key of Object.keys(env)) {
    const match = PER_PROVIDER.exec(key);
    if (match) names.add(match[1] as string);
  }
  const providers = [...names]
    .sort()
    .map((upper) => parseProvider(env, upper, deps.isProduction, report))
    .filter((p): p is OidcProviderConfig => p !== undefined);
  const github = parseGithub(v, deps.isProduction, report);
  if (github && names.has("GITHUB")) {
    report.problems.push(
      "OIDC_GITHUB_*: GitHub is not an OpenID Connect provider; use GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET",
    );
  }
  if (github) names.add("GITHUB");
  const trusted = (v.OIDC_TRUSTED_FOR_LINKING ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const name of trusted) {
    if (!names.has(name.toUpperCase()) || name !== name.replace(/[^a-z0-9]/g, "")) {
      report.problems.push(`OIDC_TRUSTED_FOR_LINKING: "${name.slice(0, 40)}" is not a configured provider`);
    }
  }
  if (trusted.length > 0) {
    report.warnings.push(
      `OIDC_TRUSTED_FOR_LINKING=${trusted.join(",")}: whoever controls an address at these providers can sign in to the account that has it`,
    );
  }
  return {
    oidc: {
      providers,
      /** GitHub (plain OAuth 2.0), when GITHUB_CLIENT_ID is set. */
      github,
      /** Every provider's name, as in `/auth/oauth/:provider`. */
      names: [...providers.map((p) => p.name), ...(github ? ["github"] : [])],
      trustedForLinking: trusted,
      flowTtlSeconds: v.OIDC_FLOW_TTL_SECONDS,
      clockToleranceSeconds: v.OIDC_CLOCK_TOLERANCE_SECONDS,
      timeoutMs: v.OIDC_TIMEOUT_MS,
      /** Where providers send the browser back: `${publicUrl}/auth/oauth/<name>/callback`. */
      publicUrl: deps.publicUrl,
    },
  };
}

export type OidcConfig = ReturnType<typeof oidcConfig>;
