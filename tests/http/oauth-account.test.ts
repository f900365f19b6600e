import { randomUUID } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/app.js";
import { inlineMailWorker, login, testApp } from "../helpers/fixtures.js";
import { authorize, startIssuer, type TestIssuer } from "../helpers/oidc-issuer.js";
import { startSmtpServer, type TestSmtpServer } from "../helpers/smtp.js";

// An account a provider created: no password until its owner sets one through "forgot password".
const PUBLIC_URL = "http://localhost:3998";
const NEW_PASSWORD = "a passphrase of my own";

let smtp: TestSmtpServer;
let issuer: TestIssuer;
let t: TestApp;

beforeAll(async () => {
  [smtp, issuer] = await Promise.all([
    startSmtpServer(),
    startIssuer({ redirectUri: () => `${PUBLIC_URL}/auth/oauth/acme/callback` }),
  ]);
  t = await testApp({
    env: {
      PUBLIC_URL,
      SMTP_URL: smtp.url,
      MAIL_FROM: "Accounts <accounts@example.test>",
      EMAIL_VERIFICATION: "off",
      OIDC_ACME_ISSUER: issuer.url,
      OIDC_ACME_CLIENT_ID: issuer.clientId,
      OIDC_ACME_CLIENT_SECRET: issuer.clientSecret,
      RATE_LIMIT_LOGIN_LIMIT: "1000",
    },
    factories: inlineMailWorker,
  });
});
afterAll(async () => {
  await issuer?.close();
});

/** Signs `subject` in at the provider in a new browser; that browser (now with a session). */
async function providerSignIn(subject: string) {
  const browser = request.agent(t.app);
  const start = await browser.get("/auth/oauth/acme").expect(302);
  const back = await authorize(start.headers.location as string, { subject });
  await browser.get(`${back.pathname}${back.search}`).set("Accept", "application/json").expect(302);
  return browser;
}

describe("an account created by a provider", () => {
  it("sets a password through the reset flow, still signs in at the provider, and exports its identity", async () => {
    const email = `provider-${randomUUID().slice(0, 12)}@example.com`;
    const subject = `sub-${randomUUID()}`;
    issuer.accounts.set(subject, { email, email_verified: true });
    const first = await providerSignIn(subject);
    const id = (await first.get("/auth/me").expect(200)).body.user.id as string;

    // No password yet: whatever is typed is refused like a wrong one.
    const guess = await request(t.app).post("/auth/login").send({ email, password: NEW_PASSWORD });
    expect(guess.status).toBe(401);
    expect(guess.body.error.code).toBe("invalid_credentials");

    await request(t.app).post("/auth/password/forgot").send({ email }).expect(202);
    const mail = await smtp.waitFor(email);
    const link = mail.links.find((l) => l.startsWith(`${PUBLIC_URL}/password/reset?token=`));
    const token = new URL(link as string).searchParams.get("token");
    await request(t.app).post("/auth/password/reset").send({ token, newPassword: NEW_PASSWORD }).expect(204);

    const withPassword = await login(t, email, { password: NEW_PASSWORD });
    const me = await request(t.app).get("/auth/me").set("Cookie", withPassword.cookie).expect(200);
    expect(me.body.user.id).toBe(id);

    // The provider still signs the same person into the same account, and the new session is whole on the
    // very next request (its credential epoch is the new password's, so a half-stored one would be refused).
    for (let i = 0; i < 5; i++) {
      const again = await providerSignIn(subject);
      expect((await again.get("/auth/me").expect(200)).body.user.id).toBe(id);
    }

    const data = await request(t.app)
      .get("/auth/account/export")
      .set("Cookie", withPassword.cookie)
      .expect(200);
    expect(data.body.identities).toEqual([
      { provider: "acme", subject, email, linkedAt: expect.any(String), lastUsedAt: expect.any(String) },
    ]);
  });
});
