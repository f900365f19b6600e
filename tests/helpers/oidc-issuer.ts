import { generateKeyPairSync, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export interface IssuerAccount {
  email?: string;
  email_verified?: boolean;
}

export interface TestIssuer {
  /** The issuer URL (`http://127.0.0.1:<port>`). */
  url: string;
  clientId: string;
  clientSecret: string;
  /** People who can sign in here, by subject. */
  accounts: Map<string, IssuerAccount>;
  /** Signs from now on with a new key, publishing it first in its JWKS (the old one stays listed). */
  rotateKey(): void;
  /** The kid the issuer signs with now. */
  signingKid(): string;
  close(): Promise<void>;
}

function signingKey() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), use: "sig", alg: "RS256" };
}

/**
 * A real OpenID Provider (oidc-provider, certified) in this process on a loopback port, with one client
 * whose redirect URI is `redirectUri(issuerUrl)`. Its login form is driven over plain HTTP by `authorize`.
 * ID tokens live `idTokenTtlSeconds`.
 */
export async function startIssuer(options: {
  redirectUri: (issuer: string) => string;
  idTokenTtlSeconds?: number;
}): Promise<TestIssuer> {
  const accounts = new Map<string, IssuerAccount>();
  const clientId = `app-${randomUUID().slice(0, 8)}`;
  const clientSecret = `secret-${randomUUID()}`;
  let keys = [signingKey()];
  let provider: Provider | undefined;
  let handler: ReturnType<Provider["callback"]> | undefined;
  const server: Server = createServer((req, res) => handler?.(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const build = () => {
    provider = new Provider(url, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: [options.redirectUri(url)],
          token_endpoint_auth_method: "client_secret_post",
        },
      ],
      jwks: { keys },
      features: { devInteractions: { enabled: true } },
      pkce: { required: () => true },
      conformIdTokenClaims: false,
      claims: { openid: ["sub"], email: ["email", "email_verified"] },
      ttl: {
        IdToken: options.idTokenTtlSeconds ?? 3600,
        AccessToken: 600,
        AuthorizationCode: 60,
        Interaction: 600,
        Session: 600,
        Grant: 600,
      },
      cookies: { keys: ["test-issuer-cookie-key"] },
      findAccount: async (_ctx: unknown, sub: string) => {
        const claims = accounts.get(sub);
        return claims ? { accountId: sub, claims: async () => ({ sub, ...claims }) } : undefined;
      },
      // Consent is given once and for all: the tests drive the login, not the consent screen.
      loadExistingGrant: async (ctx: {
        oidc: { client: { clientId: string }; session: { accountId: string } };
      }) => {
        const grant = new (provider as Provider).Grant({
          clientId: ctx.oidc.client.clientId,
          accountId: ctx.oidc.session.accountId,
        });
        grant.addOIDCScope("openid email profile");
        grant.addOIDCClaims(["email", "email_verified"]);
        await grant.save();
        return grant;
      },
    });
    handler = provider.callback();
  };
  build();

  return {
    url,
    clientId,
    clientSecret,
    accounts,
    rotateKey() {
      keys = [signingKey(), ...keys];
      build();
    },
    signingKid: () => keys[0]?.kid as string,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * What a person does at the provider, over plain HTTP with the provider's cookies: opens `authorizeUrl`,
 * signs in as `subject` on the login form (or cancels it), and returns the URL the provider sends the
 * browser back to (this server's callback with `code` and `state`, or with `error`).
 */
export async function authorize(authorizeUrl: string, action: { subject: string } | "cancel"): Promise<URL> {
  const jar = new Map<string, string>();
  const send = async (url: string, init: RequestInit = {}) => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: { ...(init.headers ?? {}), cookie },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = (pair as string).indexOf("=");
      jar.set((pair as string).slice(0, eq), (pair as string).slice(eq + 1));
    }
    await res.arrayBuffer();
    return res;
  };
  const origin = new URL(authorizeUrl).origin;
  let url = authorizeUrl;
  for (let hop = 0; hop < 10; hop++) {
    const res = await send(url);
    const location = res.headers.get("location");
    if (!location) throw new Error(`the provider answered ${res.status} at ${url}`);
    const next = new URL(location, url);
    if (next.origin !== origin) return next;
    if (next.pathname.startsWith("/interaction/")) {
      const submitted =
        action === "cancel"
          ? await send(`${next.href}/abort`)
          : await send(next.href, {
              method: "POST",
              headers: { "content-type": "application/x-www-form-urlencoded" },
              body: new URLSearchParams({
                prompt: "login",
                login: action.subject,
                password: "any",
              }).toString(),
            });
      const resume = submitted.headers.get("location");
      if (!resume) throw new Error(`the login form answered ${submitted.status}`);
      url = new URL(resume, next).href;
      const back = new URL(url);
      if (back.origin !== origin) return back;
      continue;
    }
    url = next.href;
  }
  throw new Error("the provider never sent the browser back");
}
