import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../../server/config/config.js";
import { inlineMailWorker, login, registerUser, TEST_PASSWORD, testApp } from "../helpers/fixtures.js";
import { capturingLogger } from "../helpers/logger.js";
import { sessionCookie, uniqueEmail } from "../helpers/session.js";
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from "../helpers/smtp.js";

const PUBLIC_URL = "https://auth.example.test";
const NEW_PASSWORD = "a brand new passphrase";
const CHROME_UA =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
});

/**
 * The app with mail going to the test SMTP server and the mail worker running in it, as WORKER_MODE=inline
 * does; verification off unless `env` says otherwise, so only the mails a test asks for arrive.
 */
function mailApp(env: Env = {}, logger = capturingLogger("info").logger) {
  return testApp({
    env: {
      SMTP_URL: smtp.url,
      MAIL_FROM: "Accounts <accounts@example.test>",
      PUBLIC_URL,
      EMAIL_VERIFICATION: "off",
      ...env,
    },
    logger,
    factories: inlineMailWorker,
  });
}

function tokenOf(mail: ReceivedMail, path: string): string {
  const link = mail.links.find((l) => l.startsWith(`${PUBLIC_URL}${path}?token=`));
  if (!link) throw new Error(`no ${path} link in: ${mail.text}`);
  return new URL(link).searchParams.get("token") as string;
}

/** Waits until the worker has sent the mail `marker` caused, so mails queued before it have been handled. */
async function drain(t: Awaited<ReturnType<typeof mailApp>>) {
  const marker = await registerUser(t);
  await request(t.app).post("/auth/password/forgot").send({ email: marker.email }).expect(202);
  await smtp.waitFor(marker.email);
}

describe("password reset", () => {
  it("forgot → mail → reset → every old session ends → the new password logs in; the link works once", async () => {
    const capture = capturingLogger("debug");
    const t = await mailApp({}, capture.logger);
    const owner = await registerUser(t);
    const other = await login(t, owner.email);

    const forgot = await request(t.app)
      .post("/auth/password/forgot")
      .send({ email: owner.email.toUpperCase() });
    expect(forgot.status).toBe(202);
    expect(forgot.body).toEqual({
      status: "accepted",
      message: "If an account uses this address, a link to reset its password is on its way.",
    });
    const mail = await smtp.waitFor(owner.email);
    expect(mail.subject).toBe("Reset your password");
    expect(mail.from).toBe("accounts@example.test");
    expect(mail.text).toContain("30 minutes");
    const token = tokenOf(mail, "/password/reset");
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mail.html).toContain(`href="${PUBLIC_URL}/password/reset?token=${token}"`);

    await request(t.app)
      .post("/auth/password/reset")
      .send({ token, newPassword: NEW_PASSWORD })
      .expect(204)
      .expect((res) => expect(sessionCookie(res, t.config.session.cookieName)).toBeUndefined());

    for (const session of [owner, other]) {
      await request(t.app).get("/auth/me").set("Cookie", session.cookie).expect(401);
    }
    await request(t.app)
      .post("/auth/login")
      .send({ email: owner.email, password: TEST_PASSWORD })
      .expect(401);
    const after = await login(t, owner.email, { password: NEW_PASSWORD });
    await request(t.app).get("/auth/me").set("Cookie", after.cookie).expect(200);

    const again = await request(t.app)
      .post("/auth/password/reset")
      .send({ token, newPassword: "yet another one" });
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe("invalid_token");
    await login(t, owner.email, { password: NEW_PASSWORD });

    // The reset is in the user's activity, and no log line ever held the token.
    const activity = await request(t.app).get("/auth/activity").set("Cookie", after.cookie).expect(200);
    expect(JSON.stringify(activity.body)).toContain("password_reset");
    await t.services.events.settled();
    expect(capture.text()).not.toContain(token);
  });

  it("answers an unknown address exactly like a known one, and mails nobody", async () => {
    const t = await mailApp();
    const known = await registerUser(t);
    const unknown = uniqueEmail("nobody");
    const a = await request(t.app).post("/auth/password/forgot").send({ email: unknown });
    const b = await request(t.app).post("/auth/password/forgot").send({ email: known.email });
    expect(a.status).toBe(202);
    expect(a.status).toBe(b.status);
    expect(a.text).toBe(b.text);
    expect(a.headers["content-type"]).toBe(b.headers["content-type"]);
    await smtp.waitFor(known.email);
    await drain(t);
    expect(smtp.to(unknown)).toEqual([]);
  });

  it("refuses an invalid, an expired and a superseded link with one 400 invalid_token", async () => {
    const t = await mailApp();
    const owner = await registerUser(t);
    await request(t.app).post("/auth/password/forgot").send({ email: owner.email }).expect(202);
    const token = tokenOf(await smtp.waitFor(owner.email), "/password/reset");

    // A password change after the mail voids its link.
    await request(t.app)
      .post("/auth/password")
      .set("Cookie", owner.cookie)
      .send({ currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD })
      .expect(204);
    for (const candidate of [token, "not-a-token", `${token.slice(0, -1)}A`]) {
      const res = await request(t.app)
        .post("/auth/password/reset")
        .send({ token: candidate, newPassword: "whatever it is 1" });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: {
          code: "invalid_token",
          message: "This link is invalid, was already used or has expired; ask for a new one",
        },
      });
    }
    await login(t, owner.email, { password: NEW_PASSWORD });

    // An expired one.
    await request(t.app).post("/auth/password/forgot").send({ email: owner.email }).expect(202);
    const second = tokenOf(await smtp.waitFor(owner.email, { from: 1 }), "/password/reset");
    await t.services.db.query(
      "UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE user_id = (SELECT id FROM users WHERE email = $1)",
      [owner.email],
    );
    const expired = await request(t.app)
      .post("/auth/password/reset")
      .send({ token: second, newPassword: "whatever it is 2" });
    expect(expired.body.error.code).toBe("invalid_token");

    const bad = await request(t.app)
      .post("/auth/password/reset")
      .send({ token: second, newPassword: "short" });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "invalid_request", field: "newPassword" });
  });

  it("limits per address with 429, and per email silently: the same 202, no more mail", async () => {
    const t = await mailApp({ RATE_LIMIT_RECOVERY_LIMIT: "3", RATE_LIMIT_RECOVERY_EMAIL_LIMIT: "1" });
    const owner = await registerUser(t);
    const first = await request(t.app).post("/auth/password/forgot").send({ email: owner.email });
    await smtp.waitFor(owner.email);
    const second = await request(t.app).post("/auth/password/forgot").send({ email: owner.email });
    expect(second.status).toBe(202);
    expect(second.text).toBe(first.text);
    await request(t.app)
      .post("/auth/password/forgot")
      .send({ email: uniqueEmail("x") })
      .expect(202);
    const refused = await request(t.app).post("/auth/password/forgot").send({ email: owner.email });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("rate_limited");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect(smtp.to(owner.email)).toHaveLength(1);
  });

  it("answers 503 at once when the queue cannot take the mail", async () => {
    const t = await mailApp();
    await t.services.mailQueue.close();
    const started = Date.now();
    const res = await request(t.app)
      .post("/auth/password/forgot")
      .send({ email: uniqueEmail("q") });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("service_unavailable");
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe("email verification", () => {
  it("required: registration answers the same for a new and a taken address; the owner hears of the attempt", async () => {
    const t = await mailApp({ EMAIL_VERIFICATION: "required" });
    // An account made and confirmed under optional verification.
    const before = await mailApp({ EMAIL_VERIFICATION: "optional" });
    const taken = await registerUser(before);
    const confirm = tokenOf(await smtp.waitFor(taken.email), "/email/verify");
    await request(before.app).post("/auth/email/verify").send({ token: confirm }).expect(204);
    const fresh = uniqueEmail("fresh");

    const a = await request(t.app).post("/auth/register").send({ email: fresh, password: TEST_PASSWORD });
    const b = await request(t.app)
      .post("/auth/register")
      .send({ email: taken.email, password: "another password" });
    for (const res of [a, b]) {
      expect(res.status).toBe(202);
      expect(res.headers["set-cookie"]).toBeUndefined();
    }
    expect(a.text).toBe(b.text);
    expect(a.body).toEqual({
      status: "verification_sent",
      message: "Check your inbox: the link we sent confirms your address, then you can log in.",
    });

    // The taken address' owner: after the confirmation mail, word of the attempt.
    const attempt = await smtp.waitFor(taken.email, { from: 1 });
    expect(attempt.subject).toBe("Someone tried to sign up with your address");
    expect(attempt.links).toContain(`${PUBLIC_URL}/password/forgot`);
    await login(t, taken.email); // the existing account still logs in with its own password

    // The new account: no login before the link, and 403 only with the right password.
    const wrong = await request(t.app).post("/auth/login").send({ email: fresh, password: "not it at all" });
    expect(wrong.status).toBe(401);
    const early = await request(t.app).post("/auth/login").send({ email: fresh, password: TEST_PASSWORD });
    expect(early.status).toBe(403);
    expect(early.body.error.code).toBe("email_not_verified");
    expect(early.headers["set-cookie"]).toBeUndefined();

    const mail = await smtp.waitFor(fresh);
    expect(mail.subject).toBe("Confirm your email address");
    const token = tokenOf(mail, "/email/verify");
    // The link opens a page with a button; opening it (a mail scanner does) confirms nothing.
    const landing = await request(t.app).get(`/email/verify?token=${token}`).set("Accept", "text/html");
    expect(landing.status).toBe(200);
    expect(landing.headers["referrer-policy"]).toBe("no-referrer");
    expect(landing.text).toContain('action="/email/verify"');
    await request(t.app).post("/auth/login").send({ email: fresh, password: TEST_PASSWORD }).expect(403);

    await request(t.app).post("/auth/email/verify").send({ token }).expect(204);
    const user = await login(t, fresh);
    const me = await request(t.app).get("/auth/me").set("Cookie", user.cookie).expect(200);
    expect(me.body.user.emailVerified).toBe(true);
    const reused = await request(t.app).post("/auth/email/verify").send({ token });
    expect(reused.status).toBe(400);
    expect(reused.body.error.code).toBe("invalid_token");
  });

  it("required: a lost link can be asked for again without logging in, with the same answer for anyone", async () => {
    const t = await mailApp({ EMAIL_VERIFICATION: "required" });
    const email = uniqueEmail("lost");
    await request(t.app).post("/auth/register").send({ email, password: TEST_PASSWORD }).expect(202);
    await smtp.waitFor(email);
    const known = await request(t.app).post("/auth/email/verify/resend").send({ email });
    const unknown = await request(t.app)
      .post("/auth/email/verify/resend")
      .send({ email: uniqueEmail("no") });
    expect(known.status).toBe(202);
    expect(known.text).toBe(unknown.text);
    const token = tokenOf(await smtp.waitFor(email, { from: 1 }), "/email/verify");
    await request(t.app).post("/auth/email/verify").send({ token }).expect(204);
    await login(t, email);
  });

  it("optional: registration logs in as before, mails a link, and /auth/me tells whether it was used", async () => {
    const t = await mailApp({ EMAIL_VERIFICATION: "optional" });
    const user = await registerUser(t);
    const me = await request(t.app).get("/auth/me").set("Cookie", user.cookie).expect(200);
    expect(me.body.user.emailVerified).toBe(false);
    const token = tokenOf(await smtp.waitFor(user.email), "/email/verify");
    await request(t.app).post("/auth/email/verify").send({ token }).expect(204);
    const after = await request(t.app).get("/auth/me").set("Cookie", user.cookie).expect(200);
    expect(after.body.user.emailVerified).toBe(true);
    // Logged in, "send it again" is for the session's user; a confirmed address gets nothing.
    await request(t.app).post("/auth/email/verify/resend").set("Cookie", user.cookie).expect(202);
    await drain(t);
    expect(smtp.to(user.email)).toHaveLength(1);
  });
});

describe("new sign-in notice", () => {
  it("mails the owner when a device it has not used signs in, with device, address, time and a link", async () => {
    const t = await mailApp({ NOTIFY_NEW_SIGN_IN: "true", EMAIL_VERIFICATION: "off" });
    const owner = await registerUser(t, { headers: { "User-Agent": CHROME_UA } });
    const fromNew = await login(t, owner.email, { headers: { "User-Agent": CHROME_UA } });
    const mail = await smtp.waitFor(owner.email);
    expect(mail.subject).toBe("New sign-in to your account");
    expect(mail.text).toContain("Device: Chrome on Linux");
    expect(mail.text).toMatch(/Address: (::ffff:)?127\.0\.0\.1/);
    expect(mail.text).toMatch(/Time: \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(mail.links).toContain(`${PUBLIC_URL}/account`);

    // The same browser again (it holds the device cookie that login set): no mail.
    const device = (fromNew.res.headers["set-cookie"] as unknown as string[])
      .map((c) => c.split(";")[0])
      .find((c) => c?.startsWith(`${t.config.session.deviceCookieName}=`)) as string;
    await login(t, owner.email, { headers: { "User-Agent": CHROME_UA, Cookie: device } });
    await drain(t);
    // Registration sent none, the first login one, the known device none.
    expect(smtp.to(owner.email)).toHaveLength(1);
  });

  it("mails once a day per device and address to a client that keeps no cookies, again for another device", async () => {
    const t = await mailApp({ NOTIFY_NEW_SIGN_IN: "true", EMAIL_VERIFICATION: "off" });
    const owner = await registerUser(t, { headers: { "User-Agent": CHROME_UA } });
    // A script logging in again and again, throwing its cookies away each time.
    for (let i = 0; i < 3; i++) await login(t, owner.email, { headers: { "User-Agent": CHROME_UA } });
    await smtp.waitFor(owner.email);
    await drain(t);
    expect(smtp.to(owner.email)).toHaveLength(1);

    const FIREFOX_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
    await login(t, owner.email, { headers: { "User-Agent": FIREFOX_UA } });
    const second = await smtp.waitFor(owner.email, { from: 1 });
    expect(second.text).toContain("Device: Firefox on Windows");
    await drain(t);
    expect(smtp.to(owner.email)).toHaveLength(2);
  });
});
