import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_GROUP } from "../../server/domain/auth/groups.js";
import { ACTIONS } from "../../server/http/admin/console-views.js";
import type { TestApp } from "../helpers/app.js";
import type { TestDatabase } from "../helpers/database.js";
import {
  ageAuthentication,
  type Credentials,
  isolatedDatabase,
  login,
  registerUser,
  testApp,
} from "../helpers/fixtures.js";
import { sessionIdOf } from "../helpers/session.js";

let database: TestDatabase;
let t: TestApp;
let admin: Credentials & { id: string };
let target: Credentials & { id: string };

const idOf = async (email: string) => (await t.services.users.findByEmail(email))?.id as string;

beforeAll(async () => {
  database = await isolatedDatabase();
  t = await testApp({ db: database.db, env: { REAUTH_MAX_AGE_SECONDS: "300", MFA: "off" } });
  const a = await registerUser(t);
  admin = { ...a, id: await idOf(a.email) };
  await t.services.userCache.groups.add(admin.id, ADMIN_GROUP);
  const u = await registerUser(t);
  target = { ...u, id: await idOf(u.email) };
});

/** Every console page and form, as a browser would send it. */
const PAGES = (id: string) =>
  [
    ["get", "/admin"],
    ["get", "/admin/users"],
    ["get", `/admin/users/${id}`],
    // Every action button (disable, enable, end sessions, reset mails, second factors, delete).
    ...Object.keys(ACTIONS).map((action) => ["post", `/admin/users/${id}/${action}`] as const),
    ["post", `/admin/users/${id}/groups`],
    ["post", `/admin/users/${id}/groups/ops/remove`],
    ["post", `/admin/users/${id}/sessions/abc/revoke`],
  ] as const;

const page = (route: ReturnType<typeof PAGES>[number], cookie: string, app = t) =>
  request(app.app)[route[0]](route[1]).set("Cookie", cookie).set("Accept", "text/html").type("form");

describe("the admin console", () => {
  it("sends a browser without a session to the login page, and answers 403 to a non-admin on every page and form", async () => {
    const anonymous = await request(t.app).get("/admin/users").set("Accept", "text/html");
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.location).toBe("/login?next=%2Fadmin%2Fusers");
    for (const route of PAGES(target.id)) {
      const res = await page(route, target.cookie);
      expect(res.status, `${route[0]} ${route[1]}`).toBe(403);
      expect(res.text).not.toContain(target.email);
    }
    expect((await t.services.users.findById(target.id))?.disabledAt).toBeNull();
  });

  it("answers 403 on every page and form to a non-admin whose cached user claims the admin group", async () => {
    const forger = await registerUser(t);
    const id = await idOf(forger.email);
    await request(t.app).get("/auth/me").set("Cookie", forger.cookie).expect(200);
    const key = t.cache.keys.value("users", 0, id);
    const stored = (await t.redis!.get(key)) as string;
    const at = stored.indexOf(":");
    const forged = { ...JSON.parse(stored.slice(at + 1)), groups: [ADMIN_GROUP] };
    await t.redis!.set(key, `${stored.slice(0, at)}:${JSON.stringify(forged)}`, "KEEPTTL");
    // Another instance, with no copy of the user in its memory, reads the forged entry.
    const other = await testApp({
      db: database.db,
      env: { REAUTH_MAX_AGE_SECONDS: "300", MFA: "off", KEY_PREFIX: t.config.keyPrefix },
    });
    const verify = await request(other.app).get("/auth/verify").set("Cookie", forger.cookie);
    expect(verify.headers["x-auth-groups"]).toBe(ADMIN_GROUP); // the forgery is in place
    for (const route of PAGES(target.id)) {
      const res = await page(route, forger.cookie, other);
      expect(res.status, `${route[0]} ${route[1]}`).toBe(403);
      expect(res.text).not.toContain(target.email);
    }
    expect((await t.services.users.findById(target.id))?.disabledAt).toBeNull();
  });

  it("refuses every admin form a browser sent from another site", async () => {
    for (const route of PAGES(target.id).filter(([method]) => method === "post")) {
      const res = await page(route, admin.cookie).set("Sec-Fetch-Site", "cross-site");
      expect(res.status, route[1]).toBe(403);
    }
    expect((await t.services.users.findById(target.id))?.disabledAt).toBeNull();
  });

  it("asks an admin whose authentication is old to confirm it is them", async () => {
    const late = await registerUser(t);
    await t.services.userCache.groups.add(await idOf(late.email), ADMIN_GROUP);
    await ageAuthentication(t, late.cookie);
    const res = await request(t.app).get("/admin/users").set("Cookie", late.cookie);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/account/confirm?next=%2Fadmin%2Fusers");
  });

  it("lists and finds users, shows the overview chart, under the strict CSP", async () => {
    const list = await request(t.app)
      .get(`/admin/users?q=${encodeURIComponent(target.email)}`)
      .set("Cookie", admin.cookie);
    expect(list.status).toBe(200);
    expect(list.text).toContain(`href="/admin/users/${target.id}"`);
    expect(list.text).not.toContain(admin.email);
    expect(list.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(list.text).not.toMatch(/<script|style=/);

    const overview = await request(t.app).get("/admin").set("Cookie", admin.cookie).expect(200);
    expect(overview.text).toContain("<svg");
    expect(overview.text).toMatch(/Last 24 hours: <strong>\d+<\/strong> sign-ins/);
    expect(overview.text).not.toMatch(/<script|style=/);
  });

  it("counts the accounts locked now: locked by wrong passwords, unlocked by a login or an operator", async () => {
    const strict = await testApp({
      db: database.db,
      env: { MFA: "off", RATE_LIMIT_LOGIN_ACCOUNT_LIMIT: "2", RATE_LIMIT_LOGIN_LIMIT: "1000" },
    });
    const adminSession = await login(strict, admin.email, { password: admin.password });
    const lockedNow = async () => {
      const page = await request(strict.app).get("/admin").set("Cookie", adminSession.cookie).expect(200);
      const found = /Accounts locked now \(too many wrong passwords\): <strong>(\d+)<\/strong>/.exec(
        page.text,
      );
      return Number(found?.[1]);
    };
    const attempt = (email: string, password: string) =>
      request(strict.app).post("/auth/login").send({ email, password });
    expect(await lockedNow()).toBe(0);

    // Two wrong passwords use up the account's limit: locked, and still one account on a refused attempt.
    const victim = await registerUser(strict);
    expect((await attempt(victim.email, "wrong password 1")).status).toBe(401);
    expect(await lockedNow()).toBe(0);
    expect((await attempt(victim.email, "wrong password 2")).status).toBe(401);
    expect(await lockedNow()).toBe(1);
    expect((await attempt(victim.email, victim.password)).status).toBe(429);
    expect(await lockedNow()).toBe(1);

    // The right password on the last attempt left is no lockout.
    const owner = await registerUser(strict);
    expect((await attempt(owner.email, "wrong password 1")).status).toBe(401);
    expect((await attempt(owner.email, owner.password)).status).toBe(200);
    expect(await lockedNow()).toBe(1);

    // An operator clears the lockout (npm run ops -- lockout clear).
    await strict.services.limits.loginAccount.clear(victim.email);
    expect(await lockedNow()).toBe(0);
  });

  it("asks before a destructive action, then does it; the last admin stays", async () => {
    const phone = await login(t, target.email, { password: target.password });
    const ask = await page(["post", `/admin/users/${target.id}/revoke-sessions`], admin.cookie).expect(200);
    expect(ask.text).toContain('name="confirmed" value="yes"');
    await request(t.app).get("/auth/me").set("Cookie", phone.cookie).expect(200);

    const done = await page(["post", `/admin/users/${target.id}/revoke-sessions`], admin.cookie).send({
      confirmed: "yes",
    });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe(`/admin/users/${target.id}?done=revoke-sessions`);
    await request(t.app).get("/auth/me").set("Cookie", phone.cookie).expect(401);
    const shown = await request(t.app)
      .get(done.headers.location as string)
      .set("Cookie", admin.cookie)
      .expect(200);
    expect(shown.text).toContain("Every session of this account has ended.");

    const wrong = await page(["post", `/admin/users/${target.id}/delete`], admin.cookie).send({
      confirmed: "yes",
      confirm: "someone@else.example",
    });
    expect(wrong.status).toBe(400);
    expect(await t.services.users.findById(target.id)).toBeDefined();

    // Leave this admin the only one in this database.
    await database.db.query("DELETE FROM user_groups WHERE name = $1 AND user_id <> $2", [
      ADMIN_GROUP,
      admin.id,
    ]);
    const last = await page(["post", `/admin/users/${admin.id}/disable`], admin.cookie).send({
      confirmed: "yes",
    });
    expect(last.status).toBe(409);
    expect(last.text).toContain("no enabled admin");
  });
});
