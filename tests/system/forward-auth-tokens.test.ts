import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/app.js";
import { closeAfterFile, registerUser, servedApp } from "../helpers/fixtures.js";
import {
  CADDY,
  NGINX,
  type RunningProcess,
  startBackend,
  startCaddy,
  startNginx,
  versionOf,
} from "../helpers/proxies.js";
import { uniqueEmail } from "../helpers/session.js";

// Personal access tokens through the examples/ Caddy and nginx configurations: a rule asks for a scope;
// the backend learns which token called and with which scopes, and never a client's own claim of them.
if (!CADDY) console.warn("forward-auth token tests: caddy is missing (apt-get install caddy); skipped");
if (!NGINX) console.warn("forward-auth token tests: nginx is missing (apt-get install nginx); skipped");

let auth: TestApp;
let authUpstream: string;
let backend: RunningProcess;

beforeAll(async () => {
  const served = await servedApp({
    env: {
      TRUST_PROXY: "127.0.0.1",
      RATE_LIMIT_LOGIN_LIMIT: "1000",
      TOKEN_SCOPES: "deploy,reports:read",
      // /deploy needs a token with the scope `deploy` (a person with a session passes); the rest, anyone.
      FORWARD_AUTH_RULES: "*/deploy=scope:deploy,*/",
    },
  });
  auth = served.t;
  authUpstream = new URL(served.url).host;
  backend = await startBackend();
  closeAfterFile(() => backend.stop());
});

const proxies = [
  { name: "caddy", binary: CADDY, version: ["version"], start: startCaddy },
  { name: "nginx", binary: NGINX, version: ["-v"], start: startNginx },
] as const;

type Echo = { path: string; identity: Record<string, string> };

/** Headers a client may forge: the backend must see none of them. */
const FORGED = {
  "X-Auth-Scopes": "deploy admin",
  "X-Auth-Token-Id": "00000000-0000-0000-0000-000000000000",
  X_Auth_Scopes: "deploy admin",
};

function get(url: string, headers: Record<string, string>) {
  return fetch(url, { headers: { Accept: "application/json", ...headers }, redirect: "manual" });
}

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

describe.each(proxies)("personal access tokens behind $name", ({ name, binary, version, start }) => {
  let proxy: RunningProcess;
  let cookie: string;
  let userId: string;

  beforeAll(async () => {
    if (!binary) return;
    console.log(`forward-auth token test: ${versionOf(binary, [...version])}`);
    proxy = await start(binary, { auth: authUpstream, backend: `127.0.0.1:${backend.port}` });
    closeAfterFile(() => proxy.stop());
    const user = await registerUser(auth, { email: uniqueEmail("pat") });
    cookie = user.cookie;
    userId = (user.res.body as { user: { id: string } }).user.id;
  });

  /** A token made through the proxy with the account's fresh session. */
  async function makeToken(scopes: string[]): Promise<{ token: string; id: string }> {
    const res = await fetch(`${proxy.url}/auth/tokens`, {
      method: "POST",
      headers: { Cookie: cookie, "Content-Type": "application/json" },
      body: JSON.stringify({ name: `ci ${scopes.join(" ")}`, scopes, expiresInDays: 1 }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { token: string; id: string };
  }

  it.skipIf(!binary)("a token with the scope passes; the backend sees its id and scopes", async () => {
    const { token, id } = await makeToken(["deploy", "reports:read"]);
    const res = await get(`${proxy.url}/deploy/now`, { Authorization: `Bearer ${token}`, ...FORGED });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as Echo;
    expect(echo.path).toBe("/deploy/now");
    expect(echo.identity).toEqual({
      "x-auth-user-id": userId,
      "x-auth-user-email": expect.any(String),
      "x-auth-email-verified": "false",
      "x-auth-token-id": id,
      "x-auth-scopes": "deploy reports:read",
    });
  });

  it.skipIf(!binary)("a token without the scope gets 403 there, and passes elsewhere", async () => {
    const { token, id } = await makeToken(["reports:read"]);
    const refused = await get(`${proxy.url}/deploy/now`, { Authorization: `Bearer ${token}`, ...FORGED });
    expect(refused.status).toBe(403);
    // Caddy passes the auth server's answer on; nginx answers 401 and 403 with pages of its own.
    if (name === "caddy") expect(await errorCode(refused)).toBe("forbidden");

    const reports = await get(`${proxy.url}/reports`, { Authorization: `Bearer ${token}`, ...FORGED });
    expect(reports.status).toBe(200);
    const echo = (await reports.json()) as Echo;
    expect(echo.identity["x-auth-token-id"]).toBe(id);
    expect(echo.identity["x-auth-scopes"]).toBe("reports:read");
  });

  it.skipIf(!binary)("a revoked token gets 401 at once", async () => {
    const { token, id } = await makeToken(["deploy"]);
    expect((await get(`${proxy.url}/deploy`, { Authorization: `Bearer ${token}` })).status).toBe(200);
    const revoked = await fetch(`${proxy.url}/auth/tokens/${id}`, {
      method: "DELETE",
      headers: { Cookie: cookie },
    });
    expect(revoked.status).toBe(204);
    const res = await get(`${proxy.url}/deploy`, { Authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
    if (name === "caddy") expect(await errorCode(res)).toBe("invalid_authorization");
  });

  it.skipIf(!binary)(
    "a session passes the scope rule with no token headers, forged ones stripped",
    async () => {
      const res = await get(`${proxy.url}/deploy`, { Cookie: cookie, ...FORGED });
      expect(res.status).toBe(200);
      const echo = (await res.json()) as Echo;
      expect(Object.keys(echo.identity).sort()).toEqual([
        "x-auth-email-verified",
        "x-auth-session-id",
        "x-auth-user-email",
        "x-auth-user-id",
      ]);
      // Without any credential the forged claim gets nowhere.
      expect((await get(`${proxy.url}/deploy`, FORGED)).status).toBe(401);
    },
  );
});
