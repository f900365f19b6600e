import { generate } from "otplib";
import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../helpers/app.js";
import { inlineMailWorker, registerUser, testApp } from "../../helpers/fixtures.js";
import { sessionCookie } from "../../helpers/session.js";
import { startSmtpServer, type TestSmtpServer } from "../../helpers/smtp.js";
import { softAuthenticator } from "../../helpers/soft-authenticator.js";

let t: TestApp;
let smtp: TestSmtpServer;

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await testApp({
    env: { SMTP_URL: smtp.url, RATE_LIMIT_LOGIN_LIMIT: "1000" },
    factories: inlineMailWorker,
  });
});

describe("every change to a second factor", () => {
  it("is a security event and a notice mailed to the owner: app on, recovery code used, codes regenerated, passkey added and removed, app off", async () => {
    const user = await registerUser(t);
    const id = (await t.services.users.findByEmail(user.email))?.id as string;
    const mailsBefore = () => smtp.to(user.email).length;
    const expectNotice = async (before: number, subject: string) => {
      const mail = await smtp.waitFor(user.email, { from: before });
      expect(mail.subject).toBe(subject);
    };

    // Registration mails its confirmation link first.
    expect((await smtp.waitFor(user.email)).subject).toBe("Confirm your email address");

    let before = mailsBefore();
    const setup = await request(t.app).post("/auth/mfa/totp/setup").set("Cookie", user.cookie).expect(200);
    const confirm = await request(t.app)
      .post("/auth/mfa/totp/confirm")
      .set("Cookie", user.cookie)
      .send({ code: await generate({ secret: setup.body.secret }) })
      .expect(200);
    await expectNotice(before, "An authenticator app was added");

    before = mailsBefore();
    const pending = await request(t.app)
      .post("/auth/login")
      .send({ email: user.email, password: user.password });
    await request(t.app)
      .post("/auth/mfa/verify")
      .set("Cookie", sessionCookie(pending, t.config.session.cookieName) as string)
      .send({ recoveryCode: confirm.body.recoveryCodes[0] })
      .expect(200);
    await expectNotice(before, "A recovery code was used");

    before = mailsBefore();
    await request(t.app).post("/auth/mfa/recovery-codes").set("Cookie", user.cookie).expect(200);
    await expectNotice(before, "New recovery codes were made");

    before = mailsBefore();
    const url = new URL(t.config.mail.publicUrl);
    const authenticator = softAuthenticator({ origin: url.origin, rpId: url.hostname });
    const options = await request(t.app).post("/auth/passkeys/register/options").set("Cookie", user.cookie);
    const added = await request(t.app)
      .post("/auth/passkeys/register")
      .set("Cookie", user.cookie)
      .send({ response: authenticator.create(options.body), name: "Phone" })
      .expect(201);
    await expectNotice(before, "A passkey was added");

    before = mailsBefore();
    await request(t.app)
      .delete(`/auth/passkeys/${added.body.passkey.id}`)
      .set("Cookie", user.cookie)
      .expect(204);
    await expectNotice(before, "A passkey was removed");

    before = mailsBefore();
    await request(t.app).delete("/auth/mfa/totp").set("Cookie", user.cookie).expect(204);
    await expectNotice(before, "Your authenticator app was removed");

    await t.services.events.settled();
    const events = (await t.services.events.recent(id)).map((e) => e.event).reverse();
    expect(
      events.filter((e) => e.startsWith("mfa_") || e.startsWith("passkey_") || e.startsWith("recovery_")),
    ).toEqual([
      "mfa_enabled",
      "recovery_code_used",
      "recovery_codes_regenerated",
      "passkey_added",
      "passkey_removed",
      "mfa_disabled",
    ]);
  });
});
