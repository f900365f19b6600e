import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ageAuthentication,
  inlineMailWorker,
  login,
  registerUser,
  TEST_PASSWORD,
  testApp,
} from "../helpers/fixtures.js";
import { capturingLogger } from "../helpers/logger.js";
import { sessionCookie, sessionIdOf, uniqueEmail } from "../helpers/session.js";
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from "../helpers/smtp.js";

const PUBLIC_URL = "https://auth.example.test";
const CONFIRM_PATH = "/account/email/confirm";
const ACCEPTED = {
  status: "accepted",
  message:
    "A link to confirm the new address is on its way to it. The account keeps its address until the link is used.",
};

let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
});

/** The app with mail going to the test SMTP server and the mail worker running in it (WORKER_MODE=inline). */
function mailApp() {
  return testApp({
    env: {
      SMTP_URL: smtp.url,
      MAIL_FROM: "Accounts <accounts@example.test>",
      PUBLIC_URL,
      EMAIL_VERIFICATION: "off",
      REAUTH_MAX_AGE_SECONDS: "300",
    },
    logger: capturingLogger("info").logger,
    factories: inlineMailWorker,
  });
}
type App = Awaited<ReturnType<typeof mailApp>>;

function confirmLink(mail: ReceivedMail): string | undefined {
  const link = mail.links.find((l) => l.startsWith(`${PUBLIC_URL}${CONFIRM_PATH}?token=`));
  return link ? (new URL(link).searchParams.get("token") as string) : undefined;
}

function tokenOf(mail: ReceivedMail): string {
  const token = confirmLink(mail);
  if (!token) throw new Error(`no ${CONFIRM_PATH} link in: ${mail.text}`);
  return token;
}

/** Waits until the worker has sent the mail `marker` caused, so mails queued before it have been handled. */
async function drain(t: App) {
  const marker = await registerUser(t);
  await request(t.app).post("/auth/password/forgot").send({ email: marker.email }).expect(202);
  await smtp.waitFor(marker.email);
}

const me = async (t: App, cookie: string) =>
  (await request(t.app).get("/auth/me").set("Cookie", cookie).expect(200)).body.user;

const askChange = (t: App, cookie: string, email: string) =>
  request(t.app).post("/auth/email").set("Cookie", cookie).send({ email });

const useToken = (t: App, token: string) => request(t.app).post("/auth/email/change").send({ token });

describe("changing the email address", () => {
  it("needs a recent authentication: 403 reauthentication_required, the page asks again, nothing is mailed", async () => {
    const t = await mailApp();
    const owner = await registerUser(t);
    await ageAuthentication(t, owner.cookie);
    const target = uniqueEmail("new");

    const res = await askChange(t, owner.cookie, target);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("reauthentication_required");

    const page = await request(t.app)
      .post("/account/email")
      .set("Cookie", owner.cookie)
      .type("form")
      .send({ email: target });
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe("/account/confirm?next=%2Faccount");

    await drain(t);
    expect(smtp.to(target)).toEqual([]);
    expect(smtp.to(owner.email)).toEqual([]);
    expect((await me(t, owner.cookie)).email).toBe(owner.email);
  });

  it("request → link to the new address, notice to the old → the token moves the account, verified; the link works once", async () => {
    const t = await mailApp();
    const owner = await registerUser(t);
    const other = await login(t, owner.email);
    const target = uniqueEmail("new");

    const res = await askChange(t, owner.cookie, target.toUpperCase());
    expect(res.status).toBe(202);
    expect(res.body).toEqual(ACCEPTED);

    const link = await smtp.waitFor(target);
    expect(link.subject).toBe("Confirm your new email address");
    expect(link.text).toContain("for 1 day");
    const token = tokenOf(link);
    const notice = await smtp.waitFor(owner.email);
    expect(notice.subject).toBe("A change of your email address was requested");
    expect(notice.text).toContain(target);
    expect(confirmLink(notice)).toBeUndefined();
    expect((await me(t, owner.cookie)).email).toBe(owner.email);

    await useToken(t, token).expect(204);

    for (const session of [owner, other]) {
      expect(await me(t, session.cookie)).toMatchObject({ email: target, emailVerified: true });
    }
    const changed = await smtp.waitFor(owner.email, { from: 1 });
    expect(changed.subject).toBe("Your email address was changed");
    expect(changed.text).toContain(target);

    await request(t.app)
      .post("/auth/login")
      .send({ email: owner.email, password: TEST_PASSWORD })
      .expect(401);
    await login(t, target);

    const again = await useToken(t, token);
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe("invalid_token");

    const activity = await request(t.app).get("/auth/activity").set("Cookie", owner.cookie).expect(200);
    const events = JSON.stringify(activity.body);
    expect(events).toContain("email_change_requested");
    expect(events).toContain("email_changed");
  });

  it("voids a password-reset link mailed to the old address once the account has moved", async () => {
    const t = await mailApp();
    const owner = await registerUser(t);
    await request(t.app).post("/auth/password/forgot").send({ email: owner.email }).expect(202);
    const resetMail = await smtp.waitFor(owner.email);
    const resetLink = resetMail.links.find((l) => l.includes("/password/reset?token="));
    const resetToken = new URL(resetLink as string).searchParams.get("token") as string;
    expect(resetToken).toBeTruthy();

    const target = uniqueEmail("moved");
    await askChange(t, owner.cookie, target).expect(202);
    await useToken(t, tokenOf(await smtp.waitFor(target))).expect(204);

    const reset = await request(t.app)
      .post("/auth/password/reset")
      .send({ token: resetToken, newPassword: "a brand new password 42" });
    expect(reset.status).toBe(400);
    expect(reset.body.error.code).toBe("invalid_token");
    await login(t, target);
  });

  it("refuses the account's own address and an invalid one with 400", async () => {
    const t = await mailApp();
    const owner = await registerUser(t);
    const same = await askChange(t, owner.cookie, ` ${owner.email.toUpperCase()} `);
    expect(same.status).toBe(400);
    expect(same.body.error).toMatchObject({ code: "invalid_request", field: "email" });
    const bad = await askChange(t, owner.cookie, "not an address");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "invalid_request", field: "email" });
    await request(t.app)
      .post("/auth/email")
      .send({ email: uniqueEmail("x") })
      .expect(401);
  });

  it("answers a taken address exactly like a free one: no link, its owner gets a notice, nothing changes", async () => {
    const t = await mailApp();
    const first = await registerUser(t);
    const holder = await registerUser(t);
    const second = await registerUser(t);

    const taken = await askChange(t, first.cookie, holder.email);
    const free = await askChange(t, second.cookie, uniqueEmail("free"));
    expect(taken.status).toBe(202);
    expect(taken.text).toBe(free.text);
    expect(taken.headers["content-type"]).toBe(free.headers["content-type"]);

    const notice = await smtp.waitFor(holder.email);
    expect(notice.subject).toBe("Someone tried to move an account to your address");
    expect(confirmLink(notice)).toBeUndefined();
    await drain(t);
    expect(smtp.to(holder.email)).toHaveLength(1);
    expect((await me(t, first.cookie)).email).toBe(first.email);
    expect((await me(t, holder.cookie)).email).toBe(holder.email);
    await login(t, first.email);
    await login(t, holder.email);
  });

  it("an address taken between request and confirmation: 409 email_taken and nothing changes", async () => {
    const t = await mailApp();
    const owner = await registerUser(t);
    const target = uniqueEmail("new");
    await askChange(t, owner.cookie, target).expect(202);
    const token = tokenOf(await smtp.waitFor(target));

    const squatter = await registerUser(t, { email: target });
    const res = await useToken(t, token);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("email_taken");

    expect(await me(t, owner.cookie)).toMatchObject({ email: owner.email, emailVerified: false });
    expect((await me(t, squatter.cookie)).email).toBe(target);
    await login(t, owner.email);
    await login(t, target);
  });

  it("a password change after the request voids the link (400 invalid_token)", async () => {
    const t = await mailApp();
    const owner = await registerUser(t);
    const target = uniqueEmail("new");
    await askChange(t, owner.cookie, target).expect(202);
    const token = tokenOf(await smtp.waitFor(target));

    const newPassword = "a brand new passphrase";
    const changed = await request(t.app)
      .post("/auth/password")
      .set("Cookie", owner.cookie)
      .send({ currentPassword: TEST_PASSWORD, newPassword })
      .expect(204);
    const cookie = sessionCookie(changed, t.config.session.cookieName) as string;

    const res = await useToken(t, token);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_token");
    expect((await me(t, cookie)).email).toBe(owner.email);
    await login(t, owner.email, { password: newPassword });
  });

  it("refuses a cross-site form post to /account/email", async () => {
    const t = await mailApp();
    const owner = await registerUser(t);
    const target = uniqueEmail("new");
    const res = await request(t.app)
      .post("/account/email")
      .set("Cookie", owner.cookie)
      .set("Origin", "https://evil.example")
      .set("Sec-Fetch-Site", "cross-site")
      .type("form")
      .send({ email: target });
    expect(res.status).toBe(403);
    await drain(t);
    expect(smtp.to(target)).toEqual([]);
    expect((await me(t, owner.cookie)).email).toBe(owner.email);
  });

  it("the pages: the form sends the link; opening it changes nothing; its button does, signed in or not", async () => {
    const t = await mailApp();
    const owner = await registerUser(t);
    const target = uniqueEmail("new");

    const account = await request(t.app).get("/account").set("Cookie", owner.cookie).expect(200);
    expect(account.text).toContain('action="/account/email"');
    const sent = await request(t.app)
      .post("/account/email")
      .set("Cookie", owner.cookie)
      .type("form")
      .send({ email: target });
    expect(sent.status).toBe(303);
    expect(sent.headers.location).toBe("/account?done=email-link-sent");
    const token = tokenOf(await smtp.waitFor(target));

    for (let i = 0; i < 2; i++) {
      const landing = await request(t.app).get(`${CONFIRM_PATH}?token=${token}`);
      expect(landing.status).toBe(200);
      expect(landing.headers["referrer-policy"]).toBe("no-referrer");
      expect(landing.text).toContain(`action="${CONFIRM_PATH}"`);
      expect(landing.text).toContain(`name="token" value="${token}"`);
    }
    expect((await me(t, owner.cookie)).email).toBe(owner.email);

    const done = await request(t.app).post(CONFIRM_PATH).type("form").send({ token });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe("/login?done=email-changed");
    expect((await me(t, owner.cookie)).email).toBe(target);

    const dead = await request(t.app).post(CONFIRM_PATH).type("form").send({ token });
    expect(dead.status).toBe(400);
    expect(dead.text).toContain("This link does not work");
  });
});
