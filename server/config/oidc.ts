import { int, nonEmpty, type Report, type Values } from "./variables.js";

export const OIDC_VARIABLES = {
  OIDC_TRUSTED_FOR_LINKING: nonEmpty.optional(), // providers (comma-separated names) whose verified email may link to an existing account without its owner signing in
  OIDC_FLOW_TTL_SECONDS: int(60, 3600).default(600), // how long a browser has to come back from the provider
  OIDC_CLOCK_TOLERANCE_SECONDS: int(0, 300).default(30), // leeway for the ID token's exp, iat and nbf against this server's clock
  OIDC_TIMEOUT_MS: int(500, 60_000).default(5000), // per request to a provider (discovery, token, keys, userinfo)
};

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
  const trusted = (v.OIDC_TRUSTED_FOR_LINKING ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const name of trusted) {
    if (!names.has(name.toUpperCase())) {
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
