import { createHash, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeGithubUser {
  id: number;
  emails: { email: string; primary: boolean; verified: boolean }[];
}

export interface FakeGithub {
  /** Origin of both the web and the API endpoints. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** Who approves the next authorization, or "deny" to decline it. */
  next: FakeGithubUser | "deny";
  close(): Promise<void>;
}

/**
 * A loopback server shaped like GitHub's OAuth app endpoints: `/login/oauth/authorize` (approves at once
 * as `next`), `/login/oauth/access_token` (checks the client, the code once, the redirect URI and the
 * PKCE verifier; errors as 200 with `error`, as GitHub does), `/user`, `/user/emails` and `/meta`.
 */
export async function startFakeGithub(): Promise<FakeGithub> {
  const codes = new Map<string, { user: FakeGithubUser; challenge: string; redirectUri: string }>();
  const tokens = new Map<string, FakeGithubUser>();
  const fake: FakeGithub = {
    url: "",
    clientId: `gh-${randomUUID().slice(0, 8)}`,
    clientSecret: `gh-secret-${randomUUID()}`,
    next: "deny",
    close: async () => undefined,
  };
  const json = (res: import("node:http").ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", fake.url);
    if (url.pathname === "/login/oauth/authorize") {
      const back = new URL(url.searchParams.get("redirect_uri") as string);
      back.searchParams.set("state", url.searchParams.get("state") ?? "");
      if (fake.next === "deny") {
        back.searchParams.set("error", "access_denied");
      } else {
        const code = randomUUID();
        codes.set(code, {
          user: fake.next,
          challenge: url.searchParams.get("code_challenge") ?? "",
          redirectUri: url.searchParams.get("redirect_uri") ?? "",
        });
        back.searchParams.set("code", code);
      }
      return void res.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === "/login/oauth/access_token" && req.method === "POST") {
      let raw = "";
      for await (const chunk of req) raw += chunk;
      const form = new URLSearchParams(raw);
      if (form.get("client_id") !== fake.clientId || form.get("client_secret") !== fake.clientSecret) {
        return json(res, 200, { error: "incorrect_client_credentials" });
      }
      const grant = codes.get(form.get("code") ?? "");
      codes.delete(form.get("code") ?? "");
      const verifier = createHash("sha256")
        .update(form.get("code_verifier") ?? "")
        .digest("base64url");
      if (!grant || grant.challenge !== verifier || grant.redirectUri !== form.get("redirect_uri")) {
        return json(res, 200, { error: "bad_verification_code" });
      }
      const token = randomUUID();
      tokens.set(token, grant.user);
      return json(res, 200, { access_token: token, token_type: "bearer", scope: "read:user,user:email" });
    }
    const user = tokens.get((req.headers.authorization ?? "").replace(/^Bearer /, ""));
    if (url.pathname === "/meta") return json(res, 200, {});
    if (!user) return json(res, 401, { message: "Bad credentials" });
    if (url.pathname === "/user")
      return json(res, 200, { id: user.id, login: `user${user.id}`, email: null });
    if (url.pathname === "/user/emails") return json(res, 200, user.emails);
    json(res, 404, { message: "Not Found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}
