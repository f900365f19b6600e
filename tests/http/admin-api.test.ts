import { generate } from "otplib";
import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_GROUP } from "../../server/domain/auth/groups.js";
import type { TestApp } from "../helpers/app.js";
import type { TestDatabase } from "../helpers/database.js";
import {
  ageAuthentication,
  type Credentials,
  inlineMailWorker,
  isolatedDatabase,
  login,
  registerUser,
  testApp,
  waitUntil,
} from "../helpers/fixtures.js";
import { sessionIdOf, uniqueEmail } from "../helpers/session.js";
import { startSmtpServer, type TestSmtpServer } from "../helpers/smtp.js";

const API_KEY = "admin-api-key-for-tests-0123456789";
// Its own database: the last-admin rule counts every admin in it.
let database: TestDatabase;
let t: TestApp;
/** A second instance of the same deployment (same Redis prefix and database). */
let other: TestApp;
let admin: Credentials & { id: string };

const idOf = async (email: string) => (await t.services.users.findByEmail(email))?.id as string;

async function makeAdmin(): Promise<Credentials & { id: string }> {
  const user = await registerUser(t);
  const id = await idOf(user.email);
  await t.services.userCache.groups.add(id, ADMIN_GROUP);
  return { ...user, id };
}

const sessionKey = (cookie: string) => `${t.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;

beforeAll(async () => {
  database = await isolatedDatabase();
  // MFA=off: these cases are about the group and the key; the second factor has its own below.
  const env = { ADMIN_API_KEY: API_KEY, REAUTH_MAX_AGE_SECONDS: "300", MFA: "off" };
  t = await testApp({ db: database.db, env });
  other = await testApp({ db: database.db, env: { ...env, KEY_PREFIX: t.config.keyPrefix } });
  admin = await makeAdmin();
});

/** Every admin API route, with a body where one is needed. */
const ROUTES = (id: string) =>
  [
    ["get", "/admin/api/users"],
    ["get", `/admin/api/users/${id}`],
    ["post", `/admin/api/users/${id}/disable`],
    ["post", `/admin/api/users/${id}/enable`],
    ["post", `/admin/api/users/${id}/sessions/revoke`],
    ["delete", `/admin/api/users/${id}/sessions/abc`],
    ["post", `/admin/api/users/${id}/password-reset`],
    ["post", `/admin/api/users/${id}/verification`],
    ["post", `/admin/api/users/${id}/second-factors/reset`],
    ["post", `/admin/api/users/${id}/groups`, { name: ADMIN_GROUP }],
    ["delete", `/admin/api/users/${id}/groups/${ADMIN_GROUP}`],
    ["delete", `/admin/api/users/${id}`, { confirm: "x@example.com" }],
  ] as const;

function call(app: TestApp, route: ReturnType<typeof ROUTES>[number], cookie?: string) {
  const [method, path, body] = route;
  const req = request(app.app)[method](path);
  if (cookie) req.set("Cookie", cookie);
  return body ? req.send(body) : req;
}

describe("who may use the admin API", () => {
  it("answers 401 without a session or with a wrong key, 403 to a non-admin even with a forged cached group, and changes nothing", async () => {
    const user = await registerUser(t);
    const id = await idOf(user.email);
    // The cached user claims `admin`, as if someone had written the cache entry.
    await request(t.app).get("/auth/me").set("Cookie", user.cookie).expect(200);
    const key = t.cache.keys.value("users", 0, id);
    const stored = (await t.redis!.get(key)) as string;
    const forged = JSON.parse(stored.slice(stored.indexOf(":") + 1));
    await t.redis!.set(
      key,
      `${stored.slice(0, stored.indexOf(":"))}:${JSON.stringify({ ...forged, groups: [ADMIN_GROUP] })}`,
      "KEEPTTL",
    );
    // The other instance has no copy in its own memory: it reads the forged entry.
    const verify = await request(other.app).get("/auth/verify").set("Cookie", user.cookie);
    expect(verify.headers["x-auth-groups"]).toBe(ADMIN_GROUP); // the forgery is in place

    for (const route of ROUTES(id)) {
      expect((await call(other, route)).status, `${route[0]} ${route[1]}`).toBe(401);
      const forbidden = await call(other, route, user.cookie);
      expect([forbidden.status, forbidden.body.error?.code], `${route[0]} ${route[1]}`).toEqual([
        403,
        "forbidden",
      ]);
    }
    const wrongKey = await request(t.app)
      .get("/admin/api/users")
      .set("Authorization", "Bearer not-the-key-at-all");
    expect(wrongKey.status).toBe(401);
    expect((await database.db.query("SELECT name FROM user_groups WHERE user_id = $1", [id])).rows).toEqual(
      [],
    );
    await request(t.app).get("/auth/me").set("Cookie", user.cookie).expect(200);
  });

  it("asks an admin to authenticate again when the last authentication is old, and takes the API key", async () => {
    const late = await makeAdmin();
    await ageAuthentication(t, late.cookie);
    const res = await request(t.app).get("/admin/api/users").set("Cookie", late.cookie);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("reauthentication_required");
    await request(t.app)
      .post("/auth/reauthenticate")
      .set("Cookie", late.cookie)
      .send({ password: late.password })
      .expect(204);
    await request(t.app).get("/admin/api/users").set("Cookie", late.cookie).expect(200);
    await request(t.app).get("/admin/api/users").set("Authorization", `Bearer ${API_KEY}`).expect(200);
  });

  it("refuses a state-changing call a browser sent from another site, and changes nothing", async () => {
    const user = await registerUser(t);
    const id = await idOf(user.email);
    const res = await request(t.app)
      .post(`/admin/api/users/${id}/disable`)
      .set("Cookie", admin.cookie)
      .set("Sec-Fetch-Site", "cross-site");
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("csrf_rejected");
    expect((await t.services.users.findById(id))?.disabledAt).toBeNull();
  });
});

describe("a second factor and admin tokens, when MFA is on", () => {
  /** The same deployment with MFA=optional and `admin` among the token scopes. */
  let strict: TestApp;
  let smtp: TestSmtpServer;
  beforeAll(async () => {
    smtp = await startSmtpServer();
    strict = await testApp({
      db: database.db,
      env: {
        ADMIN_API_KEY: API_KEY,
        REAUTH_MAX_AGE_SECONDS: "300",
        TOKEN_SCOPES: "admin,reports",
        SMTP_URL: smtp.url,
      },
      factories: inlineMailWorker,
    });
  });

  async function strictAdmin() {
    const user = await registerUser(strict);
    const id = (await strict.services.users.findByEmail(user.email))?.id as string;
    await strict.services.userCache.groups.add(id, ADMIN_GROUP);
    return { ...user, id };
  }

  /** Turns TOTP on from `cookie`'s session, which then counts as signed in with a second factor. */
  async function turnOnTotp(cookie: string) {
    const setup = await request(strict.app).post("/auth/mfa/totp/setup").set("Cookie", cookie).expect(200);
    await request(strict.app)
      .post("/auth/mfa/totp/confirm")
      .set("Cookie", cookie)
      .send({ code: await generate({ secret: setup.body.secret }) })
      .expect(200);
  }

  const users = (cookie: string) => request(strict.app).get("/admin/api/users").set("Cookie", cookie);
  const mailed = (email: string, subject: string) =>
    waitUntil(() => smtp.to(email).some((m) => m.subject === subject));

  it("resets a user's second factors (API and console, after a confirmation), mails them, and names the admin", async () => {
    const a = await strictAdmin();
    await turnOnTotp(a.cookie);
    const user = await registerUser(strict);
    const id = (await strict.services.users.findByEmail(user.email))?.id as string;
    await turnOnTotp(user.cookie);
    await mailed(user.email, "An authenticator app was added");
    const codes = await request(strict.app).post("/auth/mfa/recovery-codes").set("Cookie", user.cookie);
    expect(codes.status).toBe(200);
    await mailed(user.email, "New recovery codes were made");

    const listed = await request(strict.app)
      .get(`/admin/api/users?filter=mfa&q=${encodeURIComponent(user.email)}`)
      .set("Cookie", a.cookie)
      .expect(200);
    expect(listed.body.users.map((u: { email: string }) => u.email)).toEqual([user.email]);
    const seen = await request(strict.app).get(`/admin/api/users/${id}`).set("Cookie", a.cookie).expect(200);
    expect(seen.body.secondFactors).toEqual({ totp: true, passkeys: 0, recoveryCodesLeft: 10 });
    const page = await request(strict.app).get(`/admin/users/${id}`).set("Cookie", a.cookie).expect(200);
    expect(page.text).toContain("Authenticator app (TOTP): on");
    expect(page.text).toContain("Recovery codes left: 10");

    // The console asks first; the reset happens only on the confirmed form.
    const ask = await request(strict.app)
      .post(`/admin/users/${id}/second-factors-reset`)
      .set("Cookie", a.cookie)
      .type("form")
      .send({});
    expect(ask.status).toBe(200);
    expect(ask.text).toContain("Reset second factors?");
    expect((await strict.services.admin.factors.summary(id)).totp).toBe(true);
    await request(strict.app)
      .post(`/admin/users/${id}/second-factors-reset`)
      .set("Cookie", a.cookie)
      .type("form")
      .send({ confirmed: "yes" })
      .expect(303);
    expect(await strict.services.admin.factors.summary(id)).toEqual({
      totp: false,
      passkeys: 0,
      recoveryCodesLeft: 0,
    });
    await mailed(user.email, "Your second factors were removed");
    // The user signs in with the password alone now, and is told nothing is left.
    const again = await request(strict.app)
      .post("/auth/login")
      .send({ email: user.email, password: user.password });
    expect([again.status, again.body.mfaRequired]).toEqual([200, undefined]);

    const viaApi = await request(strict.app)
      .post(`/admin/api/users/${id}/second-factors/reset`)
      .set("Authorization", `Bearer ${API_KEY}`)
      .expect(200);
    expect(viaApi.body).toEqual({ removed: { totp: false, passkeys: 0, recoveryCodesLeft: 0 } });
    await strict.services.events.settled();
    const byAdmin = await strict.services.events.recent(a.id);
    expect(byAdmin.some((e) => e.action === "second_factors_reset" && e.target === id)).toBe(true);
    const own = (await strict.services.events.recent(id)).filter((e) => e.event === "second_factors_reset");
    expect(own.map((e) => e.actor)).toEqual(["api_key", a.id]);
  });

  it("refuses an admin's session without a second factor (API 403, console a page saying how), even once the admin has TOTP", async () => {
    const a = await strictAdmin();
    const laptop = await login(strict, a.email, { password: a.password });
    const bare = await users(a.cookie);
    expect([bare.status, bare.body.error.code]).toEqual([403, "second_factor_required"]);

    await turnOnTotp(a.cookie);
    await users(a.cookie).expect(200);
    // The laptop signed in with the password alone, before TOTP existed: still refused everywhere.
    for (const route of ROUTES(a.id)) {
      const res = await call(strict, route, laptop.cookie);
      expect([res.status, res.body.error?.code], `${route[0]} ${route[1]}`).toEqual([
        403,
        "second_factor_required",
      ]);
    }
    const page = await request(strict.app).get("/admin/users").set("Cookie", laptop.cookie);
    expect(page.status).toBe(403);
    expect(page.text).toContain("Sign in with a second factor");
    expect(page.text).toContain('href="/account"');
    const ok = await request(strict.app).get("/admin/users").set("Cookie", a.cookie);
    expect(ok.status).toBe(200);
    await request(strict.app).get("/admin/api/users").set("Authorization", `Bearer ${API_KEY}`).expect(200);
  });

  it("lets a token with the admin scope call the API (not the console) while its owner is in admin", async () => {
    const a = await strictAdmin();
    const mint = async (cookie: string, scopes: string[]) => {
      const res = await request(strict.app)
        .post("/auth/tokens")
        .set("Cookie", cookie)
        .send({ name: "automation", scopes, expiresInDays: 1 });
      expect(res.status).toBe(201);
      return { Authorization: `Bearer ${res.body.token}` };
    };
    const adminToken = await mint(a.cookie, ["admin"]);
    const reportsToken = await mint(a.cookie, ["reports"]);
    const plain = await registerUser(strict);
    const plainToken = await mint(plain.cookie, ["admin"]);
    const target = await registerUser(strict);
    const targetId = (await strict.services.users.findByEmail(target.email))?.id as string;

    const found = await request(strict.app).get(`/admin/api/users/${targetId}`).set(adminToken).expect(200);
    expect(found.body.user.email).toBe(target.email);
    await request(strict.app).post(`/admin/api/users/${targetId}/disable`).set(adminToken).expect(200);
    await strict.services.events.settled();
    const mine = await strict.services.events.recent(a.id);
    expect(mine.some((e) => e.event === "admin_action" && e.target === targetId)).toBe(true);

    const console = await request(strict.app).get("/admin/users").set(adminToken);
    expect([console.status, console.body.error?.code]).toEqual([403, "token_not_allowed"]);
    const scope = await request(strict.app).get("/admin/api/users").set(reportsToken);
    expect([scope.status, scope.body.error?.code]).toEqual([403, "insufficient_scope"]);
    const outsider = await request(strict.app).get("/admin/api/users").set(plainToken);
    expect([outsider.status, outsider.body.error?.code]).toEqual([403, "forbidden"]);

    // Out of the group in the database: the token stops at once, whatever the cache still says.
    await database.db.query("DELETE FROM user_groups WHERE user_id = $1", [a.id]);
    const removed = await request(strict.app).get("/admin/api/users").set(adminToken);
    expect([removed.status, removed.body.error?.code]).toEqual([403, "forbidden"]);
    expect((await strict.services.users.findById(targetId))?.disabledAt).not.toBeNull();
  });
});

describe("what an admin does", () => {
  it("finds users by part of the address, with filters and cursors", async () => {
    const tag = `find${Date.now()}`;
    const emails = [uniqueEmail(`${tag}-a`), uniqueEmail(`${tag}-b`), uniqueEmail(`${tag}-c`)];
    for (const email of emails) await registerUser(t, { email });
    const page = (query: string) =>
      request(t.app).get(`/admin/api/users?${query}`).set("Cookie", admin.cookie).expect(200);

    const first = await page(`q=${tag.toUpperCase()}&limit=2`);
    expect(first.body.users.map((u: { email: string }) => u.email)).toEqual(emails.slice(0, 2));
    expect(first.body.users[0]).toMatchObject({ disabled: false, emailVerified: false, groups: [] });
    const second = await page(`q=${tag}&limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body).toEqual({ users: [expect.objectContaining({ email: emails[2] })] });

    await request(t.app)
      .post(`/admin/api/users/${await idOf(emails[1]!)}/disable`)
      .set("Cookie", admin.cookie)
      .expect(200);
    const disabled = await page(`q=${tag}&filter=disabled`);
    expect(disabled.body.users.map((u: { email: string }) => u.email)).toEqual([emails[1]]);

    const bad = await request(t.app).get("/admin/api/users?limit=1000").set("Cookie", admin.cookie);
    expect([bad.status, bad.body.error.code]).toEqual([400, "invalid_request"]);
    const forged = await request(t.app).get("/admin/api/users?cursor=%%%").set("Cookie", admin.cookie);
    expect(forged.status).toBe(400);
  });

  it("ends a user's sessions (their next request on another instance is 401), disables them, and each action names the admin", async () => {
    const user = await registerUser(t);
    const id = await idOf(user.email);
    const phone = await login(other, user.email, { password: user.password });
    await request(other.app).get("/auth/me").set("Cookie", user.cookie).expect(200);

    await t.services.events.settled();
    const details = await request(t.app)
      .get(`/admin/api/users/${id}`)
      .set("Cookie", admin.cookie)
      .expect(200);
    expect(details.body.user).toMatchObject({ id, email: user.email });
    expect(details.body.sessions).toHaveLength(2);
    expect(details.body.events.map((e: { event: string }) => e.event)).toContain("login_succeeded");

    const ended = await request(t.app)
      .post(`/admin/api/users/${id}/sessions/revoke`)
      .set("Cookie", admin.cookie)
      .expect(200);
    expect(ended.body).toEqual({ sessionsEnded: 2 });
    await request(other.app).get("/auth/me").set("Cookie", user.cookie).expect(401);
    await request(other.app).get("/auth/me").set("Cookie", phone.cookie).expect(401);

    const again = await login(t, user.email, { password: user.password });
    await request(t.app).post(`/admin/api/users/${id}/disable`).set("Cookie", admin.cookie).expect(200);
    await request(other.app).get("/auth/me").set("Cookie", again.cookie).expect(401);
    // Told only with the right password: a wrong one gets the answer an unknown email gets.
    const refused = await request(t.app)
      .post("/auth/login")
      .send({ email: user.email, password: user.password });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("account_disabled");
    const token = await request(t.app)
      .post("/auth/token")
      .send({ email: user.email, password: user.password });
    expect(token.status).toBe(403);
    expect(token.body.error.code).toBe("account_disabled");
    const guessed = await request(t.app)
      .post("/auth/login")
      .send({ email: user.email, password: "not the password" });
    const unknown = await request(t.app)
      .post("/auth/login")
      .send({ email: `nobody-${id}@example.com`, password: "not the password" });
    expect(guessed.status).toBe(401);
    expect(guessed.body).toEqual(unknown.body);
    const page = await request(t.app)
      .post("/login")
      .type("form")
      .send({ email: user.email, password: user.password });
    expect(page.status).toBe(403);
    expect(page.text).toContain("This account has been disabled by an administrator");
    await request(t.app).post(`/admin/api/users/${id}/enable`).set("Cookie", admin.cookie).expect(204);
    await login(t, user.email, { password: user.password });

    await t.services.events.settled();
    const mine = await t.services.events.recent(admin.id);
    expect(
      mine.filter((e) => e.event === "admin_action" && e.target === id).map((e) => [e.action, e.target]),
    ).toEqual([
      ["enable", id],
      ["disable", id],
      ["revoke_sessions", id],
    ]);
  });

  it("gives and takes groups, but never removes, disables or deletes the last enabled admin", async () => {
    // This database's admins are the ones made above; leave exactly one.
    await database.db.query("DELETE FROM user_groups WHERE name = $1 AND user_id <> $2", [
      ADMIN_GROUP,
      admin.id,
    ]);
    const user = await registerUser(t);
    const id = await idOf(user.email);
    const api = (method: "post" | "delete", path: string) =>
      request(t.app)[method](path).set("Cookie", admin.cookie);

    await api("post", `/admin/api/users/${id}/groups`).send({ name: "ops" }).expect(204);
    await api("delete", `/admin/api/users/${id}/groups/ops`).expect(204);
    const badName = await api("post", `/admin/api/users/${id}/groups`).send({ name: "Not A Group" });
    expect(badName.status).toBe(400);

    for (const res of [
      await api("delete", `/admin/api/users/${admin.id}/groups/${ADMIN_GROUP}`),
      await api("post", `/admin/api/users/${admin.id}/disable`),
      await api("delete", `/admin/api/users/${admin.id}`).send({ confirm: admin.email }),
    ]) {
      expect([res.status, res.body.error.code]).toEqual([409, "last_admin"]);
    }
    await request(t.app).get("/admin/api/users?limit=1").set("Cookie", admin.cookie).expect(200);
  });
});
