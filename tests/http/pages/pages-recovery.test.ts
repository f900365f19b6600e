import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../../../server/config/config.js";
import { inlineMailWorker, login, registerUser, TEST_PASSWORD, testApp } from "../../helpers/fixtures.js";
import { sessionCookie, uniqueEmail } from "../../helpers/session.js";
import { sleep } from "../../helpers/sleep.js";
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from "../../helpers/smtp.js";

const PUBLIC_URL = "https://auth.example.test";
/** What a browser sends with a form post from one of the app's own pages. */
const FORM = { "Sec-Fetch-Site": "same-origin", Accept: "text/html" };

let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
});

function mailApp(env: Env = {}) {
  return testApp({
    env: { SMTP_URL: smtp.url, PUBLIC_URL, EMAIL_VERIFICATION: "off", ...env },
    factories: inlineMailWorker,
  });
}

const tokenOf = (mail: ReceivedMail) => new URL(mail.links[0] as string).searchParams.get("token") as string;

describe("recovery pages", () => {
  it("forgot password: the login page links to it; posting redirects to one notice for any address", async () => {
    const t = await mailApp();
    const loginPage = await request(t.app).get("/login").expect(200);
    expect(loginPage.text).toContain('<a href="/password/forgot">Forgot password?</a>');
    const page = await request(t.app).get("/password/forgot").expect(200);
    expect(page.text).toContain('<label for="f-email">Email</label>');
    expect(page.text).not.toMatch(/<script|style=/);

    const owner = await registerUser(t);
    for (const email of [owner.email, uniqueEmail("nobody")]) {
      const res = await request(t.app).post("/password/forgot").set(FORM).type("form").send({ email });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe("/password/forgot?sent=1");
    }
    const sent = await request(t.app).get("/password/forgot?sent=1").expect(200);
    expect(sent.text).toContain('role="status"');
    const bad = await request(t.app).post("/password/forgot").set(FORM).type("form").send({ email: "nope" });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('aria-invalid="true"');

    // The reset page: the token stays in the form, never in a Referer.
    const token = tokenOf(await smtp.waitFor(owner.email));
    const form = await request(t.app).get(`/password/reset?token=${token}`).expect(200);
    expect(form.headers["referrer-policy"]).toBe("no-referrer");
    expect(form.text).toContain(`name="token" value="${token}"`);
    const short = await request(t.app)
      .post("/password/reset")
      .set(FORM)
      .type("form")
      .send({ token, newPassword: "short" });
    expect(short.status).toBe(400);
    expect(short.text).toContain("newPassword must be at least 8 characters");
    const done = await request(t.app)
      .post("/password/reset")
      .set(FORM)
      .type("form")
      .send({ token, newPassword: "a brand new passphrase" });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe("/login?done=reset");
    expect((await request(t.app).get("/login?done=reset")).text).toContain("Log in with the new password");
    await request(t.app).get("/auth/me").set("Cookie", owner.cookie).expect(401);
    await login(t, owner.email, { password: "a brand new passphrase" });

    const used = await request(t.app).get(`/password/reset?token=${token}`).expect(400);
    expect(used.text).toContain('href="/password/forgot"');
  });

  it("a form from another site is refused before anything is queued", async () => {
    const t = await mailApp();
    const owner = await registerUser(t);
    const res = await request(t.app)
      .post("/password/forgot")
      .set({ "Sec-Fetch-Site": "cross-site", Accept: "text/html" })
      .type("form")
      .send({ email: owner.email });
    expect(res.status).toBe(403);
    await request(t.app)
      .post("/auth/password/forgot")
      .send({ email: uniqueEmail("after") })
      .expect(202);
    await sleep(1500); // past the mail delay: anything queued would be sent by now
    expect(smtp.to(owner.email)).toEqual([]);
  });

  it("required verification: register page → check inbox → landing page button → log in", async () => {
    const t = await mailApp({ EMAIL_VERIFICATION: "required" });
    const email = uniqueEmail("page-verify");
    const reg = await request(t.app)
      .post("/register")
      .set(FORM)
      .type("form")
      .send({ email, password: TEST_PASSWORD });
    expect(reg.status).toBe(303);
    expect(reg.headers.location).toBe("/login?done=check-inbox");
    expect(sessionCookie(reg, t.config.session.cookieName)).toBeUndefined();

    const early = await request(t.app)
      .post("/login")
      .set(FORM)
      .type("form")
      .send({ email, password: TEST_PASSWORD });
    expect(early.status).toBe(403);
    expect(early.text).toContain('action="/email/verify/resend"');
    // The first link arrived (and was lost); the form asks for another.
    await smtp.waitFor(email);
    const resend = await request(t.app).post("/email/verify/resend").set(FORM).type("form").send({ email });
    expect(resend.headers.location).toBe("/login?done=link-sent");

    const token = tokenOf(await smtp.waitFor(email, { from: 1 }));
    const landing = await request(t.app).get(`/email/verify?token=${token}`).expect(200);
    expect(landing.headers["referrer-policy"]).toBe("no-referrer");
    const confirmed = await request(t.app).post("/email/verify").set(FORM).type("form").send({ token });
    expect(confirmed.status).toBe(303);
    expect(confirmed.headers.location).toBe("/login?done=verified");
    const again = await request(t.app).post("/email/verify").set(FORM).type("form").send({ token });
    expect(again.status).toBe(400);
    const loggedIn = await request(t.app)
      .post("/login")
      .set(FORM)
      .type("form")
      .send({ email, password: TEST_PASSWORD });
    expect(loggedIn.status).toBe(303);
    expect(loggedIn.headers.location).toBe("/account");
  });

  it("optional verification: the account page offers the link again until the address is confirmed", async () => {
    const t = await mailApp({ EMAIL_VERIFICATION: "optional" });
    const user = await registerUser(t);
    const page = await request(t.app).get("/account").set("Cookie", user.cookie).expect(200);
    expect(page.text).toContain("This address is not confirmed yet.");
    await smtp.waitFor(user.email);
    const resend = await request(t.app)
      .post("/email/verify/resend")
      .set(FORM)
      .set("Cookie", user.cookie)
      .type("form")
      .send({});
    expect(resend.headers.location).toBe("/account?done=link-sent");
    const token = tokenOf(await smtp.waitFor(user.email, { from: 1 }));
    const confirmed = await request(t.app)
      .post("/email/verify")
      .set(FORM)
      .set("Cookie", user.cookie)
      .type("form")
      .send({ token });
    expect(confirmed.headers.location).toBe("/account?done=verified");
    const after = await request(t.app).get("/account?done=verified").set("Cookie", user.cookie).expect(200);
    expect(after.text).toContain("Your email address is confirmed.");
    expect(after.text).not.toContain("This address is not confirmed yet.");
  });
});
