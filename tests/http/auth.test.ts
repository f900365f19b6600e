import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/app.js";
import { registerUser, testApp } from "../helpers/fixtures.js";
import { sessionCookie, sessionIdOf, uniqueEmail } from "../helpers/session.js";

let t: TestApp;
const cookieOf = (res: request.Response) => sessionCookie(res, t.config.session.cookieName);

beforeAll(async () => {
  t = await testApp();
});

describe("register, login, me, logout", () => {
  it("walks the whole life of a session", async () => {
    const email = uniqueEmail("walk");
    const reg = await request(t.app)
      .post("/auth/register")
      .send({ email: ` ${email.toUpperCase()} `, password: "correct horse" });
    expect(reg.status).toBe(201);
    expect(reg.body).toEqual({ user: { email, id: expect.any(String), createdAt: expect.any(String) } });
    const regCookie = cookieOf(reg);
    expect(regCookie).toBeDefined();

    const me = await request(t.app).get("/auth/me").set("Cookie", regCookie!);
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe(email);
    expect(me.headers["cache-control"]).toBe("no-store");

    const login = await request(t.app)
      .post("/auth/login")
      .send({ email: email.toUpperCase(), password: "correct horse" });
    expect(login.status).toBe(200);
    expect(login.body.user).toEqual(reg.body.user);
    const cookie = cookieOf(login)!;
    const key = `${t.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;
    expect(await t.redis!.exists(key)).toBe(1);

    const logout = await request(t.app).post("/auth/logout").set("Cookie", cookie);
    expect(logout.status).toBe(204);
    expect(await t.redis!.exists(key)).toBe(0);
    expect(logout.headers["set-cookie"]?.[0]).toMatch(/Expires=Thu, 01 Jan 1970/);

    const after = await request(t.app).get("/auth/me").set("Cookie", cookie);
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ error: { code: "unauthenticated", message: expect.any(String) } });
  });

  it("stores only the user id and login metadata in the session", async () => {
    const email = uniqueEmail("meta");
    const reg = await request(t.app)
      .post("/auth/register")
      .set("User-Agent", "vitest-agent")
      .send({ email, password: "password-123" });
    const stored = JSON.parse(
      (await t.redis!.get(`${t.config.keyPrefix}:sess:${sessionIdOf(cookieOf(reg)!)}`))!,
    );
    expect(Object.keys(stored).sort()).toEqual(["auth", "cookie", "durable", "passport"]);
    expect(stored.passport).toEqual({ user: reg.body.user.id });
    expect(stored.durable).toEqual({ h: expect.any(String) }); // which contents the durable record holds
    expect(stored.auth).toEqual({
      loginAt: expect.any(Number),
      ip: expect.any(String),
      userAgent: "vitest-agent",
      epoch: 0, // the credential epoch the session was issued under
      amr: ["pwd"], // how the person authenticated (RFC 8176)
      authAt: stored.auth.loginAt, // when: at a sign-in, the session's start
    });
    expect(JSON.stringify(stored)).not.toContain("password-123");
  });

  it("keeps serving a session stored before it recorded how it was authenticated", async () => {
    const { cookie, password } = await registerUser(t);
    const key = `${t.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;
    const stored = JSON.parse((await t.redis!.get(key))!);
    delete stored.auth.amr;
    delete stored.auth.authAt;
    await t.redis!.set(key, JSON.stringify(stored), "KEEPTTL");

    await request(t.app).get("/auth/me").set("Cookie", cookie).expect(200);
    await request(t.app).get("/auth/verify").set("Cookie", cookie).expect(200);
    expect((await request(t.app).get("/auth/sessions").set("Cookie", cookie)).body.sessions).toHaveLength(1);
    // A password change proves the password again: the new session is a password session, timed now.
    const changed = await request(t.app)
      .post("/auth/password")
      .set("Cookie", cookie)
      .send({ currentPassword: password, newPassword: "another horse battery" })
      .expect(204);
    const renewed = JSON.parse(
      (await t.redis!.get(`${t.config.keyPrefix}:sess:${sessionIdOf(cookieOf(changed)!)}`))!,
    );
    expect(renewed.auth).toMatchObject({ amr: ["pwd"], authAt: renewed.auth.loginAt, epoch: 1 });
    expect(renewed.auth.loginAt).toBeGreaterThanOrEqual(stored.auth.loginAt);
  });

  it("answers 409 email_taken for an existing email in any case", async () => {
    const email = uniqueEmail("dup");
    expect(
      (await request(t.app).post("/auth/register").send({ email, password: "password-123" })).status,
    ).toBe(201);
    const again = await request(t.app)
      .post("/auth/register")
      .send({ email: email.toUpperCase(), password: "other-password" });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("email_taken");
    expect(cookieOf(again)).toBeUndefined();
  });

  it("gives a new session id at login (no fixation) and removes the old one", async () => {
    const email = uniqueEmail("fix");
    const reg = await request(t.app).post("/auth/register").send({ email, password: "password-123" });
    const before = cookieOf(reg)!;
    const login = await request(t.app)
      .post("/auth/login")
      .set("Cookie", before)
      .send({ email, password: "password-123" });
    expect(login.status).toBe(200);
    const after = cookieOf(login)!;
    expect(sessionIdOf(after)).not.toBe(sessionIdOf(before));
    expect(await t.redis!.exists(`${t.config.keyPrefix}:sess:${sessionIdOf(before)}`)).toBe(0);
    expect((await request(t.app).get("/auth/me").set("Cookie", before)).status).toBe(401);
    expect((await request(t.app).get("/auth/me").set("Cookie", after)).status).toBe(200);
  });

  it("answers identically for an unknown email and a wrong password", async () => {
    const email = uniqueEmail("same");
    await request(t.app).post("/auth/register").send({ email, password: "password-123" });
    const wrong = await request(t.app).post("/auth/login").send({ email, password: "wrong-password" });
    const unknown = await request(t.app)
      .post("/auth/login")
      .send({ email: uniqueEmail("nobody"), password: "wrong-password" });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
    expect(wrong.body.error.code).toBe("invalid_credentials");
    expect(cookieOf(wrong)).toBeUndefined();
    expect(cookieOf(unknown)).toBeUndefined();
  });

  it("sets no cookie and writes no session for anonymous requests", async () => {
    const before = await t.redis!.dbsize();
    const res = await request(t.app).get("/auth/me");
    expect(res.status).toBe(401);
    expect(res.headers["set-cookie"]).toBeUndefined();
    expect(await t.redis!.dbsize()).toBe(before);
  });

  it("sends helmet's headers and no x-powered-by", async () => {
    const res = await request(t.app).get("/health/live");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
    expect(res.headers["x-powered-by"]).toBeUndefined();
    expect(res.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["strict-transport-security"]).toBeDefined();
    expect(res.headers["set-cookie"]).toBeUndefined();
  });
});
