import { generate } from "otplib";
import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_GROUP } from "../../server/domain/auth/groups.js";
import type { TestApp } from "../helpers/app.js";
import type { TestDatabase } from "../helpers/database.js";
import {
  ageAuthentication,
  inlineMailWorker,
  isolatedDatabase,
  login,
  registerUser,
  testApp,
  waitUntil,
} from "../helpers/fixtures.js";
import { sessionIdOf } from "../helpers/session.js";
import { startSmtpServer, type TestSmtpServer } from "../helpers/smtp.js";
import { softAuthenticator } from "../helpers/soft-authenticator.js";

// Its own schema, so "every table" is this file's and the last-admin rule counts only its admins.
let database: TestDatabase;
let t: TestApp;
let other: TestApp;
let smtp: TestSmtpServer;

beforeAll(async () => {
  database = await isolatedDatabase();
  smtp = await startSmtpServer();
  t = await testApp({
    db: database.db,
    env: { REAUTH_MAX_AGE_SECONDS: "300", SMTP_URL: smtp.url, MFA: "off" },
    factories: inlineMailWorker,
  });
  other = await testApp({ db: database.db, env: { KEY_PREFIX: t.config.keyPrefix, MFA: "off" } });
});

const idOf = async (email: string) => (await t.services.users.findByEmail(email))?.id as string;

/** Every row of every table of the schema, as text, that mentions one of `needles`. */
async function rowsNaming(...needles: string[]): Promise<string[]> {
  const schema = database.env.DATABASE_SCHEMA;
  const { rows: tables } = await database.db.query<{ table_name: string }>(
    schema
      ? "SELECT table_name FROM information_schema.tables WHERE table_schema = $1"
      : "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    schema ? [schema] : [],
  );
  expect(tables.map((r) => r.table_name)).toEqual(
    expect.arrayContaining(["users", "session_records", "user_groups"]),
  );
  const found: string[] = [];
  for (const { table_name } of tables) {
    const { rows } = await database.db.query<{ row: string }>(`SELECT t::text AS row FROM "${table_name}" t`);
    for (const { row } of rows) {
      if (needles.some((n) => row.toLowerCase().includes(n.toLowerCase())))
        found.push(`${table_name}: ${row}`);
    }
  }
  return found;
}

const sessionKey = (cookie: string) => `${t.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;

describe("download my data", () => {
  it("holds the account, its sessions and its events, and nothing of anyone else's", async () => {
    const user = await registerUser(t);
    const id = await idOf(user.email);
    const laptop = await login(t, user.email, { password: user.password });
    // An admin acts on the account: that event is the admin's, not the user's.
    const admin = await registerUser(t);
    const adminId = await idOf(admin.email);
    await t.services.userCache.groups.add(adminId, ADMIN_GROUP);
    await request(t.app)
      .post(`/admin/api/users/${id}/sessions/revoke`)
      .set("Cookie", admin.cookie)
      .expect(200);
    const again = await login(t, user.email, { password: user.password });
    // Its ways in beside the password: an authenticator app, a passkey (on an instance with MFA on) and a
    // personal access token.
    const withMfa = await testApp({ db: database.db, env: { KEY_PREFIX: t.config.keyPrefix } });
    const setup = await request(withMfa.app).post("/auth/mfa/totp/setup").set("Cookie", again.cookie);
    await request(withMfa.app)
      .post("/auth/mfa/totp/confirm")
      .set("Cookie", again.cookie)
      .send({ code: await generate({ secret: setup.body.secret }) })
      .expect(200);
    const url = new URL(withMfa.config.mail.publicUrl);
    const authenticator = softAuthenticator({ origin: url.origin, rpId: url.hostname });
    const options = await request(withMfa.app)
      .post("/auth/passkeys/register/options")
      .set("Cookie", again.cookie);
    await request(withMfa.app)
      .post("/auth/passkeys/register")
      .set("Cookie", again.cookie)
      .send({ response: authenticator.create(options.body), name: "Work laptop" })
      .expect(201);
    const pat = await request(t.app)
      .post("/auth/tokens")
      .set("Cookie", again.cookie)
      .send({ name: "deploy script", scopes: [], expiresInDays: 30 })
      .expect(201);
    await t.services.events.settled();

    await request(t.app).get("/auth/account/export").expect(401);
    const res = await request(t.app).get("/auth/account/export").set("Cookie", again.cookie).expect(200);
    expect(res.headers["content-disposition"]).toBe('attachment; filename="account.json"');
    expect(res.body.account).toEqual({
      id,
      email: user.email,
      createdAt: expect.any(String),
      emailVerified: false,
      groups: [],
    });
    expect(res.body.sessions).toEqual([expect.objectContaining({ current: true })]);
    expect(res.body.identities).toEqual([]);
    expect(res.body.secondFactors).toEqual({
      totp: true,
      recoveryCodesLeft: 10,
      passkeys: [{ name: "Work laptop", createdAt: expect.any(String), lastUsedAt: null, backedUp: false }],
    });
    expect(res.body.personalTokens).toEqual([
      expect.objectContaining({ id: pat.body.id, name: "deploy script", scopes: [], lastUsedAt: null }),
    ]);
    expect(res.body.events.map((e: { event: string }) => e.event)).toContain("login_succeeded");
    const text = JSON.stringify(res.body);
    // Never a secret: not the token, not the authenticator's secret.
    expect(text).not.toContain(pat.body.token);
    expect(text).not.toContain(setup.body.secret);
    for (const foreign of [adminId, admin.email, sessionIdOf(laptop.cookie), sessionIdOf(again.cookie)]) {
      expect(text).not.toContain(foreign);
    }
  });
});

describe("delete my account", () => {
  it("needs a recent authentication, then leaves no row naming the user, no session, no activity, and mails a confirmation", async () => {
    const user = await registerUser(t);
    const id = await idOf(user.email);
    const phone = await login(other, user.email, { password: user.password });
    await t.services.userCache.groups.add(id, "ops");
    // Everything else an account can own: a second factor with recovery codes, a browser trusted at the
    // second step, a personal access token and an app's bearer session (on an instance with MFA on).
    const withMfa = await testApp({ db: database.db, env: { KEY_PREFIX: t.config.keyPrefix } });
    const setup = await request(withMfa.app)
      .post("/auth/mfa/totp/setup")
      .set("Cookie", user.cookie)
      .expect(200);
    const code = (step: number) =>
      generate({ secret: setup.body.secret, epoch: Date.now() / 1000 + step * 30 });
    const confirmed = await request(withMfa.app)
      .post("/auth/mfa/totp/confirm")
      .set("Cookie", user.cookie)
      .send({ code: await code(0) })
      .expect(200);
    const pending = await request(withMfa.app)
      .post("/auth/login")
      .send({ email: user.email, password: user.password });
    expect(pending.body.mfaRequired).toBe(true);
    const trusted = await request(withMfa.app)
      .post("/auth/mfa/verify")
      .set("Cookie", String(pending.headers["set-cookie"]).split(";")[0] as string)
      .send({ code: await code(1), trustDevice: true })
      .expect(200);
    const pat = await request(t.app)
      .post("/auth/tokens")
      .set("Cookie", user.cookie)
      .send({ name: "deploy script", scopes: [], expiresInDays: 30 })
      .expect(201);
    const app = await request(withMfa.app)
      .post("/auth/token")
      .send({ email: user.email, password: user.password, recoveryCode: confirmed.body.recoveryCodes[0] })
      .expect(200);
    const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
    await request(other.app).get("/auth/me").set(bearer(pat.body.token)).expect(200);
    await request(other.app).get("/auth/me").set(bearer(app.body.token)).expect(200);
    await t.services.events.settled();
    expect(await rowsNaming(id, user.email)).not.toEqual([]);

    // An old authentication is not enough.
    await ageAuthentication(t, user.cookie);
    const stale = await request(t.app).delete("/auth/account").set("Cookie", user.cookie);
    expect([stale.status, stale.body.error.code]).toEqual([403, "reauthentication_required"]);
    await request(t.app)
      .post("/auth/reauthenticate")
      .set("Cookie", user.cookie)
      .send({ password: user.password })
      .expect(204);

    const gone = await request(t.app).delete("/auth/account").set("Cookie", user.cookie).expect(200);
    // Both browsers, the browser that passed the second step and the app's bearer session.
    expect(gone.body).toEqual({ sessionsEnded: 4 });
    expect(String(gone.headers["set-cookie"])).toMatch(new RegExp(`${t.config.session.cookieName}=;`));
    await t.services.events.settled();

    expect(await rowsNaming(id, user.email)).toEqual([]);
    await request(other.app).get("/auth/me").set("Cookie", phone.cookie).expect(401);
    await request(t.app).get("/auth/me").set("Cookie", user.cookie).expect(401);
    await request(other.app).get("/auth/me").set(bearer(pat.body.token)).expect(401);
    await request(other.app).get("/auth/me").set(bearer(app.body.token)).expect(401);
    expect(trusted.status).toBe(200);
    const keys = await t.redis!.keys(`${t.config.keyPrefix}:*`);
    expect(keys.filter((k) => k.includes(id))).toEqual([]);
    const left = await Promise.all([user.cookie, phone.cookie].map((c) => t.redis!.exists(sessionKey(c))));
    expect(left).toEqual([0, 0]);
    expect(await t.services.events.recent(id)).toEqual([]);
    const login401 = await request(t.app)
      .post("/auth/login")
      .send({ email: user.email, password: user.password });
    expect(login401.status).toBe(401);
    await waitUntil(() => smtp.to(user.email).some((m) => m.subject === "Your account was deleted"));
  });
});

describe("delete my account, as pages", () => {
  it("asks to confirm it is you when the authentication is old, asks once more, then deletes and says so", async () => {
    const user = await registerUser(t);
    const id = await idOf(user.email);
    await ageAuthentication(t, user.cookie);
    const stale = await request(t.app).get("/account/delete").set("Cookie", user.cookie);
    expect(stale.status).toBe(303);
    expect(stale.headers.location).toBe("/account/confirm?next=%2Faccount%2Fdelete");
    await request(t.app)
      .post("/account/confirm")
      .set("Cookie", user.cookie)
      .type("form")
      .send({ password: user.password, next: "/account/delete" })
      .expect(303);

    const ask = await request(t.app).get("/account/delete").set("Cookie", user.cookie).expect(200);
    expect(ask.text).toContain('name="confirmed" value="yes"');
    const crossSite = await request(t.app)
      .post("/account/delete")
      .set("Cookie", user.cookie)
      .set("Sec-Fetch-Site", "cross-site")
      .type("form")
      .send({ confirmed: "yes" });
    expect(crossSite.status).toBe(403);
    expect(await t.services.users.findById(id)).toBeDefined();

    const done = await request(t.app)
      .post("/account/delete")
      .set("Cookie", user.cookie)
      .type("form")
      .send({ confirmed: "yes" });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe("/login?done=deleted");
    expect(await t.services.users.findById(id)).toBeUndefined();
    const loginPage = await request(t.app).get("/login?done=deleted").expect(200);
    expect(loginPage.text).toContain("Your account is deleted");
  });
});
