import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../../../server/config/config.js";
import { uniquePrefix } from "../../helpers/app.js";
import { inlineMailWorker, registerUser, testApp, waitUntil } from "../../helpers/fixtures.js";
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from "../../helpers/smtp.js";

const PUBLIC_URL = "https://auth.example.test";
const corpEmail = (name: string) => `${name}-${uniquePrefix()}@corp.example.com`;
const CEO = corpEmail("ceo");
const RULES = `svc.example.net/, svc.example.net/admin=@corp.example.com, svc.example.net/ops=${CEO}`;

let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
});

/** The app with email rules, mail going to the test SMTP server and the mail worker running in it. */
function ruleApp(env: Env) {
  return testApp({
    env: { SMTP_URL: smtp.url, PUBLIC_URL, FORWARD_AUTH_RULES: RULES, ...env },
    factories: inlineMailWorker,
  });
}

function verifyToken(mail: ReceivedMail): string {
  const link = mail.links.find((l) => l.startsWith(`${PUBLIC_URL}/email/verify?token=`));
  if (!link) throw new Error(`no verification link in: ${mail.text}`);
  return new URL(link).searchParams.get("token") as string;
}

function verify(t: { app: Parameters<typeof request>[0] }, cookie: string, uri: string) {
  return request(t.app)
    .get("/auth/verify")
    .set({ "X-Forwarded-Proto": "https", "X-Forwarded-Host": "svc.example.net", "X-Forwarded-Uri": uri })
    .set("Cookie", cookie);
}

describe("email and domain rules admit confirmed addresses only", () => {
  it("optional: an unconfirmed session is refused by an email or domain rule, admitted after confirming, same cookie", async () => {
    const t = await ruleApp({ EMAIL_VERIFICATION: "optional" });
    const email = corpEmail("ceo");
    const user = await registerUser(t, { email });

    const open = await verify(t, user.cookie, "/reports").expect(200);
    expect(open.headers["x-auth-user-email"]).toBe(email);
    expect(open.headers["x-auth-email-verified"]).toBe("false");
    const refused = await verify(t, user.cookie, "/admin/users").expect(403);
    expect(refused.body.error.code).toBe("forbidden");
    expect(refused.headers["x-auth-user-id"]).toBeUndefined();

    const token = verifyToken(await smtp.waitFor(email));
    await request(t.app).post("/auth/email/verify").send({ token }).expect(204);

    const admitted = await verify(t, user.cookie, "/admin/users").expect(200);
    expect(admitted.headers["x-auth-email-verified"]).toBe("true");
    // A domain rule never matches a look-alike address (a suffix, not the domain).
    expect(admitted.headers["x-auth-user-email"]).toBe(email);
  });

  it("an exact-email rule needs the confirmed address too", async () => {
    const t = await ruleApp({ EMAIL_VERIFICATION: "optional" });
    // The address a rule names, registered by someone who cannot read its mail.
    const stranger = await registerUser(t, { email: CEO });
    await verify(t, stranger.cookie, "/ops/x").expect(403);
    await verify(t, stranger.cookie, "/admin").expect(403);
    // And a confirmed account with another corp address is not the CEO.
    const email = corpEmail("staff");
    const staff = await registerUser(t, { email });
    await request(t.app)
      .post("/auth/email/verify")
      .send({ token: verifyToken(await smtp.waitFor(email)) })
      .expect(204);
    await verify(t, staff.cookie, "/admin").expect(200);
    await verify(t, staff.cookie, "/ops/x").expect(403);
  });

  it("a session from before EMAIL_VERIFICATION=required no longer passes while unconfirmed, and passes once confirmed", async () => {
    const shared = { KEY_PREFIX: uniquePrefix() };
    const before = await ruleApp({ ...shared, EMAIL_VERIFICATION: "optional" });
    const email = corpEmail("early");
    const user = await registerUser(before, { email });
    const mail = await smtp.waitFor(email);

    // The operator switches to required; the old session is still valid, but not for the rule.
    const after = await ruleApp({ ...shared, EMAIL_VERIFICATION: "required" });
    await verify(after, user.cookie, "/reports").expect(200);
    await verify(after, user.cookie, "/admin").expect(403);

    await request(after.app)
      .post("/auth/email/verify")
      .send({ token: verifyToken(mail) })
      .expect(204);
    const admitted = await verify(after, user.cookie, "/admin").expect(200);
    expect(admitted.headers["x-auth-email-verified"]).toBe("true");
    // The other instance's cached copy is dropped too (the invalidation bus): it admits the same cookie.
    await waitUntil(async () => (await verify(before, user.cookie, "/admin")).status === 200);
  });
});
