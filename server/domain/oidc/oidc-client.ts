import { compactVerify, type JSONWebKeySet } from "jose";
import * as client from "openid-client";
import type { OidcProviderConfig } from "../../config/oidc.js";
import { HttpError } from "../../lib/errors.js";
import type { ProviderAccount } from "./identities.js";
import { createJwksCache } from "./jwks-cache.js";
import { isInvalidClient, providerFailure } from "./provider-errors.js";

/** The secrets a sign-in needs to carry from the redirect to the callback. */
export interface FlowSecrets {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** One provider as the sign-in flow uses it: where to send the browser, and what came back. */
export interface ProviderClient {
  readonly name: string;
  /** The provider's authorization URL for this flow (PKCE S256, state, nonce). */
  authorizationUrl(flow: FlowSecrets): Promise<URL>;
  /** Redeems the code in `callback` (the callback's query) and checks every claim; the account it names. */
  finish(callback: URLSearchParams, flow: FlowSecrets): Promise<ProviderAccount>;
  /** Resolves when the provider's discovery document can be read (a health check). */
  check(): Promise<void>;
}

/** An OpenID Connect provider found by discovery from its issuer, through openid-client. */
export function createOidcClient(deps: {
  provider: OidcProviderConfig;
  redirectUri: string;
  timeoutMs: number;
  toleranceSeconds: number;
  now: () => number;
}): ProviderClient {
  const { provider, redirectUri, toleranceSeconds, now } = deps;
  const insecure = new URL(provider.issuer).protocol === "http:"; // loopback only (config/oidc.ts)
  const timeout = Math.ceil(deps.timeoutMs / 1000); // openid-client counts seconds
  let metadata: Promise<client.ServerMetadata> | undefined;

  const discover = () => {
    metadata ??= client
      .discovery(new URL(provider.issuer), provider.clientId, undefined, undefined, {
        timeout,
        execute: insecure ? [client.allowInsecureRequests] : [],
      })
      .then((config) => config.serverMetadata());
    // A failed discovery is tried again by the next sign-in, not remembered.
    metadata.catch(() => {
      metadata = undefined;
    });
    return metadata.catch((err: unknown) => {
      throw providerFailure(err);
    });
  };

  /** A configuration for one secret, on this server's clock (`now`) rather than the machine's. */
  const configure = (server: client.ServerMetadata, secret: string) => {
    const config = new client.Configuration(
      server,
      provider.clientId,
      {
        [client.clockSkew]: Math.round((now() - Date.now()) / 1000),
        [client.clockTolerance]: toleranceSeconds,
      },
      client.ClientSecretPost(secret),
    );
    config.timeout = timeout;
    if (insecure) client.allowInsecureRequests(config);
    return config;
  };

  const keys = createJwksCache({
    now,
    async fetchKeys() {
      const server = await discover();
      if (!server.jwks_uri) throw new HttpError("oauth_provider_error");
      const response = await fetch(server.jwks_uri, { signal: AbortSignal.timeout(deps.timeoutMs) });
      if (!response.ok) throw new HttpError("oauth_provider_unavailable");
      return (await response.json()) as JSONWebKeySet;
    },
  });

  const grant = async (server: client.ServerMetadata, callback: URLSearchParams, flow: FlowSecrets) => {
    const current = new URL(redirectUri);
    current.search = callback.toString();
    let lastError: unknown;
    for (const secret of provider.clientSecrets) {
      try {
        const config = configure(server, secret);
        return await client.authorizationCodeGrant(config, current, {
          pkceCodeVerifier: flow.codeVerifier,
          expectedState: flow.state,
          expectedNonce: flow.nonce,
          idTokenExpected: true,
        });
      } catch (err) {
        lastError = err;
        // A refused client secret is checked before the code is spent: the next secret may redeem it.
        if (!isInvalidClient(err)) break;
      }
    }
    throw providerFailure(lastError);
  };

  return {
    name: provider.name,

    async authorizationUrl(flow) {
      const server = await discover();
      return client.buildAuthorizationUrl(configure(server, provider.clientSecrets[0] as string), {
        redirect_uri: redirectUri,
        scope: provider.scopes,
        state: flow.state,
        nonce: flow.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(flow.codeVerifier),
        code_challenge_method: "S256",
      });
    },

    async finish(callback, flow) {
      const server = await discover();
      const tokens = await grant(server, callback, flow);
      const claims = tokens.claims();
      if (!claims || !tokens.id_token) throw new HttpError("oauth_provider_error");
      // openid-client checked iss, aud, azp, exp, nonce over TLS; the signature is checked against the
      // provider's published keys as well, and an `iat` from the future beyond the leeway is refused.
      await compactVerify(tokens.id_token, keys).catch((err: unknown) => {
        throw providerFailure(err);
      });
      if (claims.iat > now() / 1000 + toleranceSeconds) {
        throw new HttpError("oauth_provider_error", { cause: new Error("ID token issued in the future") });
      }
      let { email, email_verified: verified } = claims as { email?: unknown; email_verified?: unknown };
      if (email === undefined && server.userinfo_endpoint) {
        const info = await client
          .fetchUserInfo(
            configure(server, provider.clientSecrets[0] as string),
            tokens.access_token,
            claims.sub,
          )
          .catch((err: unknown) => {
            throw providerFailure(err);
          });
        email = info.email;
        verified = info.email_verified;
      }
      return {
        provider: provider.name,
        subject: claims.sub,
        email: typeof email === "string" ? email : undefined,
        emailVerified: verified === true,
      };
    },

    async check() {
      await discover();
    },
  };
}
