import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from "../helpers/chromium.js";
import { closeAfterFile, privateRedisServer, registerUser, testApp } from "../helpers/fixtures.js";
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

// Real Caddy and nginx, configured by the files in examples/, in front of examples/backend and the app.
if (!CADDY)
  console.warn("forward-auth proxy tests: caddy is missing (apt-get install caddy); its tests are skipped");
if (!NGINX)
  console.warn("forward-auth proxy tests: nginx is missing (apt-get install nginx); its tests are skipped");

if (!HAS_CHROMIUM)
  console.warn(`forward-auth proxy tests: ${CHROMIUM} is missing; the browser tests are skipped`);

let browser: Promise<Browser> | undefined;
/** One Chromium for the file, launched on first use. */
function launchBrowser(): Promise<Browser> {
  browser ??= launchChromium().then((b) => {
    closeAfterFile(() => b.close());
    return b;
  });
  return browser;
}

let auth: Awaited<ReturnType<typeof testApp>>;
let authServer: Server;
let authUpstream: string;
let backend: RunningProcess;

beforeAll(async () => {
  auth = await testApp({
    // The proxy on loopback is the one trusted hop: the login page sees the proxied origin as its own.
    // Every login here comes from the one proxy address.
    env: {
      TRUST_PROXY: "127.0.0.1",
      FORWARD_AUTH_ALLOWED_ORIGINS: "https://partner.example.org",
      RATE_LIMIT_LOGIN_LIMIT: "1000",
      // Every request extends the session, so every answer carries the refreshed cookie (the default
      // re-sends it only once a tenth of the idle timeout has passed).
      SESSION_TOUCH_FRACTION: "0",
    },
  });
  authServer = createServer(auth.app);
  await new Promise<void>((resolve) => authServer.listen(0, "127.0.0.1", resolve));
  closeAfterFile(() => new Promise<void>((resolve) => authServer.close(() => resolve())));
  authUpstream = `127.0.0.1:${(authServer.address() as AddressInfo).port}`;
  backend = await startBackend();
  closeAfterFile(() => backend.stop());
});

const proxies = [
  { name: "caddy", binary: CADDY, version: ["version"], start: startCaddy },
  { name: "nginx", binary: NGINX, version: ["-v"], start: startNginx },
] as const;

type SessionList = { sessions: Array<{ id: string; current: boolean }> };
type Echo = { method: string; path: string; identity: Record<string, string> };

function get(url: string, headers: Record<string, string> = {}) {
  return fetch(url, { headers, redirect: "manual" });
}

/** The `name=value` of the session cookie a response sets. */
function cookieOf(res: Response): string {
  const line = res.headers.getSetCookie().find((c) => c.startsWith(`${auth.config.session.cookieName}=`));
  if (!line) throw new Error(`no session cookie (status ${res.status})`);
  return line.split(";")[0] as string;
}

async function formLogin(proxyUrl: string, email: string, next?: string): Promise<Response> {
  const body = new URLSearchParams({ email, password: "correct horse battery", ...(next ? { next } : {}) });
  return fetch(`${proxyUrl}/login`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body,
    redirect: "manual",
  });
}

describe.each(proxies)("forward auth behind $name", ({ name, binary, version, start }) => {
  let proxy: RunningProcess;
  let email: string;

  beforeAll(async () => {
    if (!binary) return;
    console.log(`forward-auth proxy test: ${versionOf(binary, [...version])}`);
    proxy = await start(binary, { auth: authUpstream, backend: `127.0.0.1:${backend.port}` });
    email = uniqueEmail(name);
    await registerUser(auth, { email });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it.skipIf(!binary)("serves the auth server's recovery pages without a session", async () => {
    // Not sent to the login page (302) nor refused (401): the auth server's own pages answer.
    const forgot = await get(`${proxy.url}/password/forgot`, { Accept: "text/html" });
    expect(forgot.status).toBe(200);
    expect(await forgot.text()).toContain('action="/password/forgot"');
    const reset = await get(`${proxy.url}/password/reset?token=not-a-token`, { Accept: "text/html" });
    expect(reset.headers.get("content-type")).toMatch(/^text\/html/);
    expect(reset.headers.get("location")).toBeNull();
    const verify = await get(`${proxy.url}/email/verify?token=x`, { Accept: "text/html" });
    expect(verify.status).toBe(200);
  });

  it.skipIf(!binary)("answers an API call without a session 401 at the backend's URL", async () => {
    const res = await get(`${proxy.url}/api/orders`, { Accept: "application/json" });
    expect(res.status).toBe(401);
    expect(res.headers.get("location")).toBeNull();
  });

  it.skipIf(!binary)("sends a browser to the login page and back to the page it asked for", async () => {
    const page = `${proxy.url}/reports/2026?month=11`;
    const res = await get(page, { Accept: "text/html,application/xhtml+xml" });
    expect(res.status).toBe(302);
    const login = new URL(res.headers.get("location") as string, proxy.url);
    expect(login.pathname).toBe("/login");
    expect(login.searchParams.get("next")).toBe(page);

    // The login page carries `next` in its form and, after the password, redirects there.
    const form = await (await get(login.href, { Accept: "text/html" })).text();
    expect(form).toContain(`name="next" value="${page.replace(/&/g, "&amp;")}"`);
    const done = await formLogin(proxy.url, email, page);
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe(page);

    const back = await get(page, { Accept: "text/html", Cookie: cookieOf(done) });
    expect(back.status).toBe(200);
    const echo = (await back.json()) as Echo;
    expect(echo.path).toBe("/reports/2026?month=11");
    expect(echo.identity["x-auth-user-email"]).toBe(email);
  });

  it.skipIf(name !== "caddy" || !binary)(
    "behind the platform's edge, sends the browser back over https",
    async () => {
      // The example passes the edge's X-Forwarded-Proto on (Caddy 2.6 would otherwise say http).
      const res = await get(`${proxy.url}/x`, { Accept: "text/html", "X-Forwarded-Proto": "https" });
      const login = new URL(res.headers.get("location") as string, proxy.url);
      expect(login.searchParams.get("next")).toBe(`https://127.0.0.1:${proxy.port}/x`);
    },
  );

  it.skipIf(!binary)("passes the identity headers and never ones the client forged", async () => {
    const cookie = cookieOf(await formLogin(proxy.url, email));
    const me = (await (await get(`${proxy.url}/auth/me`, { Cookie: cookie })).json()) as {
      user: { id: string };
    };
    const sessions = (await (
      await get(`${proxy.url}/auth/sessions`, { Cookie: cookie })
    ).json()) as SessionList;
    const current = sessions.sessions.find((s) => s.current);

    const forged = {
      "X-Auth-User-Id": "00000000-0000-0000-0000-000000000000",
      "X-Auth-User-Email": "admin@example.com",
      "X-Auth-Session-Id": "forged",
      "X-Auth-Email-Verified": "true",
      "X-Auth-Provider": "google",
      // Some backends (WSGI, CGI) read these as the hyphenated names.
      X_Auth_User_Id: "00000000-0000-0000-0000-000000000000",
      X_Auth_User_Email: "admin@example.com",
      Accept: "application/json",
    };
    const ok = await get(`${proxy.url}/api/orders`, { ...forged, Cookie: cookie });
    expect(ok.status).toBe(200);
    const echo = (await ok.json()) as Echo;
    expect(echo.identity).toEqual({
      "x-auth-user-id": me.user.id,
      "x-auth-user-email": email,
      "x-auth-email-verified": "false",
      "x-auth-session-id": current?.id,
    });

    // nginx hands the auth server's refreshed cookie (rolling idle timeout) back to the browser.
    // (Caddy 2.6's forward_auth cannot: docs/guides/forward-auth.md#cookies.)
    if (name === "nginx") expect(cookieOf(ok)).toBe(cookie);

    // Without a session the forged headers never reach the backend.
    const anonymous = await get(`${proxy.url}/api/orders`, forged);
    expect(anonymous.status).toBe(401);
  });

  it.skipIf(!binary)("refuses the very next request after logout and after a revocation", async () => {
    const cookie = cookieOf(await formLogin(proxy.url, email));
    expect((await get(`${proxy.url}/data`, { Cookie: cookie })).status).toBe(200);
    const out = await fetch(`${proxy.url}/auth/logout`, { method: "POST", headers: { Cookie: cookie } });
    expect(out.status).toBe(204);
    expect((await get(`${proxy.url}/data`, { Cookie: cookie, Accept: "application/json" })).status).toBe(401);

    const victim = cookieOf(await formLogin(proxy.url, email));
    const admin = cookieOf(await formLogin(proxy.url, email));
    expect((await get(`${proxy.url}/data`, { Cookie: victim })).status).toBe(200);
    const list = (await (await get(`${proxy.url}/auth/sessions`, { Cookie: victim })).json()) as SessionList;
    const victimId = list.sessions.find((s) => s.current)?.id;
    const revoked = await fetch(`${proxy.url}/auth/sessions/${victimId}`, {
      method: "DELETE",
      headers: { Cookie: admin },
    });
    expect(revoked.status).toBe(204);
    expect((await get(`${proxy.url}/data`, { Cookie: victim, Accept: "application/json" })).status).toBe(401);
  });

  it.skipIf(!binary)("ignores a `next` that points at a foreign origin", async () => {
    for (const next of [
      "https://evil.example/phish",
      "//evil.example/",
      "/\\evil.example",
      "javascript:alert(1)",
    ]) {
      const res = await formLogin(proxy.url, email, next);
      expect(res.status, next).toBe(303);
      expect(res.headers.get("location"), next).toBe("/account");
    }
    // An origin on the allowlist is followed.
    const partner = await formLogin(proxy.url, email, "https://partner.example.org/welcome");
    expect(partner.headers.get("location")).toBe("https://partner.example.org/welcome");
  });

  it.skipIf(!binary || !HAS_CHROMIUM)("in Chromium: login page, then back to the backend page", async () => {
    const context = await (await launchBrowser()).newContext();
    try {
      const page = await context.newPage();
      const target = `${proxy.url}/dashboard?tab=orders`;
      await page.goto(target);
      expect(new URL(page.url()).pathname).toBe("/login");
      expect(new URL(page.url()).searchParams.get("next")).toBe(target);
      await page.fill("#f-email", email);
      await page.fill("#f-password", "correct horse battery");
      await Promise.all([page.waitForURL(target), page.click("button[type=submit]")]);
      const echo = JSON.parse((await page.textContent("body")) ?? "") as Echo;
      expect(echo.path).toBe("/dashboard?tab=orders");
      expect(echo.identity["x-auth-user-email"]).toBe(email);

      // Logged out on the auth pages: the backend page sends the browser to the login again.
      const logout = await context.request.post(`${proxy.url}/auth/logout`);
      expect(logout.status()).toBe(204);
      await page.goto(target);
      expect(new URL(page.url()).pathname).toBe("/login");

      // A foreign `next` is ignored: after login the browser stays on this site.
      await page.goto(`${proxy.url}/login?next=${encodeURIComponent("https://evil.example/")}`);
      await page.fill("#f-email", email);
      await page.fill("#f-password", "correct horse battery");
      await Promise.all([page.waitForURL(`${proxy.url}/account`), page.click("button[type=submit]")]);
    } finally {
      await context.close();
    }
  });
});

describe.each(proxies)("$name while the auth server's Redis is frozen", ({ name, binary, start }) => {
  it.skipIf(!binary)(
    "answers a fast 503 with Retry-After (never a 500) and lets the same cookie through once Redis is back",
    async () => {
      const redis = await privateRedisServer();
      const stalled = await testApp({
        env: {
          REDIS_URL: redis.url,
          TRUST_PROXY: "127.0.0.1",
          REDIS_COMMAND_TIMEOUT_MS: "200",
          REDIS_STALL_TIMEOUT_MS: "5000",
        },
      });
      const server = createServer(stalled.app);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      closeAfterFile(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const upstream = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const proxy = await start(binary as string, { auth: upstream, backend: `127.0.0.1:${backend.port}` });
      try {
        const email = uniqueEmail(`${name}-frozen`);
        await registerUser(stalled, { email });
        const login = await fetch(`${proxy.url}/login`, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ email, password: "correct horse battery" }),
          redirect: "manual",
        });
        const line = login.headers
          .getSetCookie()
          .find((c) => c.startsWith(`${stalled.config.session.cookieName}=`));
        const cookie = (line as string).split(";")[0] as string;
        expect((await get(`${proxy.url}/orders`, { Cookie: cookie })).status).toBe(200);

        redis.freeze();
        try {
          const started = Date.now();
          const res = await get(`${proxy.url}/orders`, { Cookie: cookie, Accept: "application/json" });
          expect(res.status).toBe(503);
          expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
          expect(((await res.json()) as { error: { code: string } }).error.code).toBe("service_unavailable");
          expect(Date.now() - started).toBeLessThan(2000);
        } finally {
          redis.thaw();
        }
        await vi.waitFor(
          async () => expect((await get(`${proxy.url}/orders`, { Cookie: cookie })).status).toBe(200),
          { timeout: 10_000, interval: 200 },
        );
      } finally {
        await proxy.stop();
      }
    },
  );
});
