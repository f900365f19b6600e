import { randomUUID } from "node:crypto";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/app.js";
import { CHROMIUM, HAS_CHROMIUM, launchChromium, watchCsp } from "../helpers/chromium.js";
import { closeAfterFile, testApp } from "../helpers/fixtures.js";
import { startIssuer, type TestIssuer } from "../helpers/oidc-issuer.js";
import { CADDY, type RunningProcess, startBackend, startCaddy } from "../helpers/proxies.js";

// The whole social sign-in in a real Chromium: our login page, the provider's own login form (oidc-provider
// on loopback), the callback, then the protected backend behind the Caddy example.
if (!CADDY) console.warn("social sign-in browser test: caddy is missing (apt-get install caddy); skipped");
if (!HAS_CHROMIUM) console.warn(`social sign-in browser test: ${CHROMIUM} is missing; skipped`);
const RUNS = Boolean(CADDY) && HAS_CHROMIUM;

type Echo = { path: string; identity: Record<string, string> };

let proxy: RunningProcess;
let issuer: TestIssuer;
let t: TestApp;

beforeAll(async () => {
  if (!RUNS) return;
  // The auth server listens first (Caddy needs its address); its app is built once the provider, which
  // needs Caddy's address for its redirect URI, is up.
  let app: RequestListener | undefined;
  const server = createServer((req, res) => app?.(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closeAfterFile(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const backend = await startBackend();
  closeAfterFile(() => backend.stop());
  proxy = await startCaddy(CADDY as string, {
    auth: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    backend: `127.0.0.1:${backend.port}`,
  });
  closeAfterFile(() => proxy.stop());
  issuer = await startIssuer({ redirectUri: () => `${proxy.url}/auth/oauth/acme/callback` });
  closeAfterFile(() => issuer.close());
  t = await testApp({
    env: {
      PUBLIC_URL: proxy.url,
      TRUST_PROXY: "127.0.0.1",
      OIDC_ACME_ISSUER: issuer.url,
      OIDC_ACME_CLIENT_ID: issuer.clientId,
      OIDC_ACME_CLIENT_SECRET: issuer.clientSecret,
      RATE_LIMIT_LOGIN_LIMIT: "1000",
    },
  });
  app = t.app as unknown as RequestListener;
});

describe("social sign-in in Chromium", () => {
  it.skipIf(!RUNS)(
    "login page → provider's form → backend sees the provider's account; a replayed callback gets no session",
    async () => {
      const browser = await launchChromium();
      closeAfterFile(() => browser.close());
      const email = `browser-${randomUUID().slice(0, 12)}@example.com`;
      const subject = `sub-${randomUUID()}`;
      issuer.accounts.set(subject, { email, email_verified: true });

      // Every Content-Security-Policy violation on our origin (the provider's pages are not ours).
      const violations: string[] = [];
      const context = await browser.newContext();
      await watchCsp(context, violations, proxy.url);
      let callbackUrl: string | undefined;
      const page = await context.newPage();
      page.on("request", (r) => {
        if (r.isNavigationRequest() && r.url().startsWith(`${proxy.url}/auth/oauth/acme/callback`)) {
          callbackUrl = r.url();
        }
      });

      const target = `${proxy.url}/dashboard?tab=orders`;
      await page.goto(target);
      expect(new URL(page.url()).pathname).toBe("/login");
      const started = Date.now();
      await Promise.all([
        page.waitForURL((url) => url.origin === issuer.url),
        page.getByRole("link", { name: /^Log in with acme$/i }).click(),
      ]);
      // The provider's own login form (oidc-provider's interaction pages).
      await page.fill("input[name=login]", subject);
      await page.fill("input[name=password]", "any password");
      await Promise.all([page.waitForURL(target), page.click("button[type=submit]")]);
      const roundTripMs = Date.now() - started;
      console.info(
        JSON.stringify({ measurement: "provider sign-in round trip in Chromium via Caddy", ms: roundTripMs }),
      );

      const echo = JSON.parse((await page.textContent("body")) ?? "") as Echo;
      expect(echo.path).toBe("/dashboard?tab=orders");
      expect(echo.identity["x-auth-user-email"]).toBe(email);
      expect(echo.identity["x-auth-provider"]).toBe("acme");
      expect(echo.identity["x-auth-email-verified"]).toBe("true");

      // Our pages after sign-in: the account page lists the identity, without a CSP violation.
      await page.goto(`${proxy.url}/account`);
      expect(await page.textContent("body")).toContain(email);
      expect(violations).toEqual([]);

      // Another browser replaying the callback URL gets the error page, and no session.
      expect(callbackUrl).toBeDefined();
      const other = await browser.newContext();
      const replay = await other.newPage();
      const res = await replay.goto(callbackUrl as string);
      expect(res?.status()).toBe(400);
      expect(await replay.textContent("main")).toMatch(/start again from the sign-in page/);
      expect((await other.request.get(`${proxy.url}/auth/me`)).status()).toBe(401);
      await replay.goto(target);
      expect(new URL(replay.url()).pathname).toBe("/login");
      await other.close();
      await context.close();
    },
  );
});
