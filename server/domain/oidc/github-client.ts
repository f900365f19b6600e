import * as client from "openid-client";
import type { GithubConfig } from "../../config/oidc.js";
import { HttpError } from "../../lib/errors.js";
import type { ProviderClient } from "./oidc-client.js";
import { providerFailure } from "./provider-errors.js";

interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

/** GitHub answers an OAuth error with 200 and `error` in the body; these mean "this secret is refused". */
const REFUSED_SECRET = new Set(["incorrect_client_credentials", "invalid_client"]);

/**
 * GitHub, which speaks OAuth 2.0 without OpenID Connect: the code is redeemed for an access token (with
 * the PKCE verifier), then `/user` gives the stable numeric id (the subject) and `/user/emails` the
 * addresses with GitHub's own `verified` flag; the primary address counts, and only if verified.
 */
export function createGithubClient(deps: {
  github: GithubConfig;
  redirectUri: string;
  timeoutMs: number;
}): ProviderClient {
  const { github, redirectUri, timeoutMs } = deps;

  const call = async <T>(url: string, init: RequestInit): Promise<T> => {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) }).catch(
      (err: unknown) => {
        throw providerFailure(err);
      },
    );
    if (response.status >= 500) throw new HttpError("oauth_provider_unavailable");
    if (!response.ok) throw new HttpError("oauth_provider_error");
    return (await response.json()) as T;
  };

  const redeem = async (code: string, verifier: string) => {
    for (const secret of github.clientSecrets) {
      const body = new URLSearchParams({
        client_id: github.clientId,
        client_secret: secret,
        code,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      });
      const answer = await call<{ access_token?: string; error?: string }>(
        `${github.webUrl}/login/oauth/access_token`,
        {
          method: "POST",
          headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
          body,
        },
      );
      if (answer.access_token) return answer.access_token;
      if (!REFUSED_SECRET.has(answer.error ?? "")) break;
    }
    throw new HttpError("oauth_provider_error");
  };

  return {
    name: "github",

    async authorizationUrl(flow) {
      const url = new URL(`${github.webUrl}/login/oauth/authorize`);
      url.search = new URLSearchParams({
        client_id: github.clientId,
        redirect_uri: redirectUri,
        scope: "read:user user:email",
        state: flow.state,
        code_challenge: await client.calculatePKCECodeChallenge(flow.codeVerifier),
        code_challenge_method: "S256",
        allow_signup: "true",
      }).toString();
      return url;
    },

    async finish(callback, flow) {
      const error = callback.get("error");
      if (error) throw new HttpError(error === "access_denied" ? "oauth_denied" : "oauth_provider_error");
      const code = callback.get("code");
      if (!code || callback.get("state") !== flow.state) throw new HttpError("oauth_state_mismatch");
      const token = await redeem(code, flow.codeVerifier);
      const headers = {
        accept: "application/vnd.github+json",
        authorization: `Bearer ${token}`,
        "x-github-api-version": "2022-11-28",
      };
      const [user, emails] = await Promise.all([
        call<{ id?: unknown }>(`${github.apiUrl}/user`, { headers }),
        call<GithubEmail[]>(`${github.apiUrl}/user/emails`, { headers }),
      ]);
      if (typeof user.id !== "number") throw new HttpError("oauth_provider_error");
      const primary = Array.isArray(emails) ? emails.find((e) => e.primary) : undefined;
      return {
        provider: "github",
        subject: String(user.id),
        email: primary?.email,
        emailVerified: primary?.verified === true,
      };
    },

    async check() {
      await call(`${github.apiUrl}/meta`, { headers: { accept: "application/json" } }).catch(() => {
        throw new HttpError("oauth_provider_unavailable");
      });
    },
  };
}
