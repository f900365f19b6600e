import { randomUUID } from "node:crypto";
import { generate } from "otplib";
import request from "supertest";
import type TestAgent from "supertest/lib/agent.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../helpers/app.js";
import { login, registerUser, TEST_PASSWORD, testApp } from "../../helpers/fixtures.js";
import { authorize, startIssuer, type TestIssuer } from "../../helpers/oidc-issuer.js";

// A bearer token, a device code and a provider's callback ask for the second factor as a password login does.
const PUBLIC_URL = "http://localhost:3999";
let issuer: TestIssuer;
let t: TestApp;
beforeAll(async () => {
  issuer = await startIssuer({ redirectUri: () => `${PUBLIC_URL}/auth/oauth/a/callback` });
  t = await testApp({
    env: {
      PUBLIC_URL,
      OIDC_A_ISSUER: issuer.url,
      OIDC_A_CLIENT_ID: issuer.clientId,
      OIDC_A_CLIENT_SECRET: issuer.clientSecret,
      DEVICE_POLL_INTERVAL_SECONDS: "1",
      RATE_LIMIT_LOGIN_LIMIT: "1000",
    },
  });
});
afterAll(async () => {
  await issuer?.close();
});

const STEP = 30; // seconds
const code = (secret: string, offsetSteps = 0) =>
  generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * STEP });

/**
 * Turns TOTP on for the user signed in on `as` (a cookie or a browser); the secret. The confirming code's
 * step is then moved into the past, so the codes of the previous, current and next steps each work once.
 */
async function turnOnTotp(as: string | TestAgent): Promise<string> {
  const post = (path: string) =>
    typeof as === "string" ? request(t.app).post(path).set("Cookie", as) : as.post(path);
  const who = typeof as === "string" ? request(t.app).get("/auth/me").set("Cookie", as) : as.get("/auth/me");
  const userId: string = (await who).body.user.id;
  const setup = await post("/auth/mfa/totp/setup");
  expect(setup.status).toBe(200);
  const secret: string = setup.body.secret;
  const confirm = await post("/auth/mfa/totp/confirm").send({ code: await code(secret) });
  expect(confirm.status).toBe(200);
  await t.services.db.query("UPDATE user_totp SET last_step = last_step - 10 WHERE user_id = $1", [userId]);
  return secret;
}

const amrOfToken = async (token: string) => {
  const sid = token.slice("rss_sess_".length, token.lastIndexOf("."));
  return JSON.parse((await t.redis!.get(`${t.config.keyPrefix}:sess:${sid}`))!).auth.amr;
};
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe("POST /auth/token with a second factor", () => {
  it("gives no token for the password alone, one for the password with a code or a recovery code", async () => {
    const { email, cookie } = await registerUser(t);
    const secret = await turnOnTotp(cookie);
    const token = (body: object) =>
      request(t.app)
        .post("/auth/token")
        .send({ email, password: TEST_PASSWORD, ...body });

    const sessions = async () => (await t.redis!.keys(`${t.config.keyPrefix}:sess:*`)).length;
    const before = await sessions();
    const alone = await token({});
    expect(alone.status).toBe(401);
    expect(alone.body).toMatchObject({ error: { code: "mfa_required" }, methods: ["totp", "recovery_code"] });
    expect(alone.body.token).toBeUndefined();
    expect(alone.headers["set-cookie"]).toBeUndefined();
    expect((await token({ code: "000000" })).body.error.code).toBe("invalid_mfa_code");
    // Neither refusal leaves a session behind.
    expect(await sessions()).toBe(before);
    // A wrong password is refused before any code is looked at.
    const wrong = await request(t.app)
      .post("/auth/token")
      .send({ email, password: "not it at all", code: "123456" });
    expect(wrong.body.error.code).toBe("invalid_credentials");

    const withCode = await token({ code: await code(secret, -1) });
    expect(withCode.status).toBe(200);
    expect(withCode.headers["set-cookie"]).toBeUndefined();
    expect(await amrOfToken(withCode.body.token)).toEqual(["pwd", "otp"]);
    const me = await request(t.app).get("/auth/me").set(bearer(withCode.body.token));
    expect(me.body.user.email).toBe(email);

    const codes = (await request(t.app).post("/auth/mfa/recovery-codes").set("Cookie", cookie)).body
      .recoveryCodes;
    const withRecovery = await token({ recoveryCode: codes[0] });
    expect(withRecovery.status).toBe(200);
    expect((await token({ recoveryCode: codes[0] })).body.error.code).toBe("invalid_mfa_code");
  });

  it("gives a user without a second factor a token for the password, as before", async () => {
    const { email } = await registerUser(t);
    const res = await request(t.app).post("/auth/token").send({ email, password: TEST_PASSWORD });
    expect(res.status).toBe(200);
    expect(await amrOfToken(res.body.token)).toEqual(["pwd"]);
  });
});

describe("device sign-in with a second factor", () => {
  const start = async () =>
    (await request(t.app).post("/auth/device/code").send({ client_name: "deploy tool" })).body as {
      device_code: string;
      user_code: string;
    };
  const approve = (cookie: string, userCode: string) =>
    request(t.app)
      .post("/device")
      .set("Cookie", cookie)
      .type("form")
      .send({ user_code: userCode, decision: "approve" });
  const poll = (deviceCode: string) =>
    request(t.app).post("/auth/device/token").send({ device_code: deviceCode });

  it("signs the device in with the approver's second factor, never from a session that lacks it", async () => {
    const { email, cookie } = await registerUser(t);
    // Signed in with the password before the factor was turned on elsewhere: this session never gave it.
    const older = (await login(t, email)).cookie;
    const secret = await turnOnTotp(cookie);

    const grant = await start();
    const refused = await approve(older, grant.user_code);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain("Sign in again with your second factor to approve a device");
    expect((await poll(grant.device_code)).body.error).toBe("authorization_pending");

    // A fresh sign-in with both factors approves, and the device inherits both.
    const first = await request(t.app).post("/auth/login").send({ email, password: TEST_PASSWORD });
    const pending = (first.headers["set-cookie"] as unknown as string[])[0]!.split(";")[0]!;
    const verified = await request(t.app)
      .post("/auth/mfa/verify")
      .set("Cookie", pending)
      .send({ code: await code(secret, -1) });
    expect(verified.status).toBe(200);
    const full = (verified.headers["set-cookie"] as unknown as string[])[0]!.split(";")[0]!;
    expect((await approve(full, grant.user_code)).status).toBe(200);
    const ok = await poll(grant.device_code);
    expect(ok.status).toBe(200);
    expect(await amrOfToken(ok.body.token)).toEqual(["pwd", "otp"]);
  });

  it("signs a device in for a user without a second factor, as before", async () => {
    const { cookie } = await registerUser(t);
    const grant = await start();
    expect((await approve(cookie, grant.user_code)).status).toBe(200);
    const ok = await poll(grant.device_code);
    expect(ok.status).toBe(200);
    expect(await amrOfToken(ok.body.token)).toEqual(["pwd"]);
  });
});

describe("a provider's sign-in with a second factor", () => {
  /** A browser back from the provider as `subject`: the callback's answer. */
  async function viaProvider(browser: TestAgent, subject: string, accept: string) {
    const begin = await browser.get("/auth/oauth/a?next=%2Fafter").expect(302);
    const back = await authorize(begin.headers.location as string, { subject });
    return browser.get(`${back.pathname}${back.search}`).set("Accept", accept);
  }
  const me = async (browser: TestAgent) => (await browser.get("/auth/me")).status;

  it("asks the browser and the API client for the second factor before signing in", async () => {
    const subject = `sub-${randomUUID()}`;
    issuer.accounts.set(subject, {
      email: `fed-${randomUUID().slice(0, 8)}@example.com`,
      email_verified: true,
    });
    const first = request.agent(t.app);
    expect((await viaProvider(first, subject, "application/json")).headers.location).toBe("/after");
    const secret = await turnOnTotp(first);

    const browser = request.agent(t.app);
    const page = await viaProvider(browser, subject, "text/html");
    expect(page.status).toBe(302);
    expect(page.headers.location).toBe("/login/mfa?next=%2Fafter");
    expect(await me(browser)).toBe(401);
    const done = await browser
      .post("/login/mfa")
      .type("form")
      .send({ code: await code(secret, -1), next: "/after" });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe("/after");
    expect(await me(browser)).toBe(200);
    expect((await browser.get("/auth/verify").expect(200)).headers["x-auth-provider"]).toBe("a");

    const api = request.agent(t.app);
    const asked = await viaProvider(api, subject, "application/json");
    expect(asked.status).toBe(200);
    expect(asked.body).toEqual({ mfaRequired: true, methods: ["totp", "recovery_code"] });
    expect(await me(api)).toBe(401);
    expect((await api.post("/auth/mfa/verify").send({ code: await code(secret, 0) })).status).toBe(200);
    expect(await me(api)).toBe(200);
  });
});
