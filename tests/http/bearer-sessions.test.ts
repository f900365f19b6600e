import { createHash } from "node:crypto";
import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp, uniquePrefix } from "../helpers/app.js";
import {
  closeAfterFile,
  registerUser,
  sharedRedis,
  TEST_PASSWORD,
  testDatabase,
} from "../helpers/fixtures.js";

// Two instances of one deployment: the shared Redis, the database and one key prefix.
let a: TestApp;
let b: TestApp;
beforeAll(async () => {
  const { db } = await testDatabase();
  const env = {
    REDIS_URL: (await sharedRedis()).url,
    KEY_PREFIX: uniquePrefix(),
    RATE_LIMIT_LOGIN_LIMIT: "1000",
  };
  a = await buildTestApp({ db, env });
  b = await buildTestApp({ db, env });
  closeAfterFile(() => a.close());
  closeAfterFile(() => b.close());
});

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function tokenFor(email: string, password = TEST_PASSWORD, t = a) {
  const res = await request(t.app).post("/auth/token").send({ email, password });
  expect(res.status).toBe(200);
  expect(res.headers["set-cookie"]).toBeUndefined();
  return res.body as { token: string; expiresAt: string };
}

const sidOf = (token: string) => token.slice("rss_sess_".length, token.lastIndexOf("."));
const sessionKey = (token: string) => `${a.config.keyPrefix}:sess:${sidOf(token)}`;

describe("a bearer session through its whole life", () => {
  it("is created by the login's credentials, used without cookies or CSRF, listed as an app, and revoked from another instance", async () => {
    const { email, cookie } = await registerUser(a);
    const before = Date.now();
    const { token, expiresAt } = await tokenFor(email);
    expect(token).toMatch(/^rss_sess_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const absolute = a.config.session.absoluteTtlSeconds * 1000;
    expect(Date.parse(expiresAt)).toBeGreaterThanOrEqual(before + absolute - 1000);

    const me = await request(a.app).get("/auth/me").set(bearer(token));
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe(email);
    expect(me.headers["set-cookie"]).toBeUndefined();

    // Another site's page cannot make a browser send this header, so no CSRF check applies to it.
    await request(a.app)
      .post("/auth/reauthenticate")
      .set({ ...bearer(token), Origin: "https://elsewhere.example" })
      .send({ password: TEST_PASSWORD })
      .expect(204);

    const listed = await request(b.app).get("/auth/sessions").set("Cookie", cookie);
    expect(listed.status).toBe(200);
    const app = listed.body.sessions.find((s: { client: string }) => s.client === "app");
    expect(listed.body.sessions).toHaveLength(2);
    expect(app).toMatchObject({ client: "app", current: false });
    const page = await request(a.app).get("/account").set("Cookie", cookie);
    expect(page.text).toContain('<span class="badge">App</span>');
    const own = await request(a.app).get("/auth/sessions").set(bearer(token));
    expect(own.body.sessions.find((s: { current: boolean }) => s.current)).toMatchObject({ id: app.id });

    const verify = await request(a.app).get("/auth/verify").set(bearer(token));
    expect(verify.status).toBe(200);
    expect(verify.headers[a.config.forwardAuth.headers.email.toLowerCase()]).toBe(email);

    await request(b.app).delete(`/auth/sessions/${app.id}`).set("Cookie", cookie).expect(204);
    const after = await request(a.app).get("/auth/me").set(bearer(token));
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe("unauthenticated");
  });

  it("ends at the absolute timeout and at DELETE /auth/token, and is restored as an app when Redis loses it", async () => {
    const { email } = await registerUser(a);
    const lost = await tokenFor(email);
    await a.redis!.del(sessionKey(lost.token));
    const restored = await request(b.app).get("/auth/sessions").set(bearer(lost.token));
    expect(restored.status).toBe(200);
    expect(restored.body.sessions.find((s: { current: boolean }) => s.current)).toMatchObject({
      client: "app",
    });

    const old = await tokenFor(email);
    const stored = JSON.parse((await a.redis!.get(sessionKey(old.token)))!);
    stored.auth.loginAt = Date.now() - a.config.session.absoluteTtlSeconds * 1000 - 1000;
    await a.redis!.set(sessionKey(old.token), JSON.stringify(stored), "KEEPTTL");
    expect((await request(a.app).get("/auth/me").set(bearer(old.token))).status).toBe(401);

    const { token } = await tokenFor(email);
    await request(a.app).delete("/auth/token").set(bearer(token)).expect(204);
    expect((await request(b.app).get("/auth/me").set(bearer(token))).status).toBe(401);
    expect(await a.redis!.exists(sessionKey(token))).toBe(0);
  });

  it("is extended by its use like a cookie session, and ends once left idle past its lifetime", async () => {
    const { email } = await registerUser(a);
    const { token } = await tokenFor(email);
    const ttlMs = a.config.session.ttlSeconds * 1000;
    // Most of its idle lifetime used up: a request extends it to the full lifetime again.
    await a.redis!.pexpire(sessionKey(token), Math.round(ttlMs * 0.3));
    await request(b.app).get("/auth/me").set(bearer(token)).expect(200);
    expect(await a.redis!.pttl(sessionKey(token))).toBeGreaterThan(ttlMs * 0.9);

    // Left idle: Redis let it expire, and its durable record's idle deadline has passed too.
    await a.redis!.del(sessionKey(token));
    const { db } = await testDatabase();
    const sid = sidOf(token);
    await db.query(
      "UPDATE session_records SET idle_expires_at = now() - interval '1 second' WHERE key_hash = $1",
      [createHash("sha256").update(sid).digest("hex")],
    );
    for (const t of [a, b])
      expect((await request(t.app).get("/auth/me").set(bearer(token))).status).toBe(401);
    expect(await a.redis!.exists(sessionKey(token))).toBe(0);
  });

  it("is useless once stolen when the owner changes the password", async () => {
    const { email, cookie } = await registerUser(a);
    const { token } = await tokenFor(email);
    const newPassword = "another horse battery staple";
    await request(a.app)
      .post("/auth/password")
      .set("Cookie", cookie)
      .send({ currentPassword: TEST_PASSWORD, newPassword })
      .expect(204);
    const stolen = await request(b.app).get("/auth/me").set(bearer(token));
    expect(stolen.status).toBe(401);
    await tokenFor(email, newPassword, b);
  });
});

describe("what a bearer request may not be", () => {
  const expectError = (res: request.Response, status: number, code: string) => {
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
    expect(res.headers["set-cookie"]).toBeUndefined();
  };

  it("refuses a token in the query string, with a cookie, or with wrong credentials", async () => {
    const { email, cookie } = await registerUser(a);
    const { token } = await tokenFor(email);
    expectError(await request(a.app).get(`/auth/me?access_token=${token}`), 400, "token_in_query");
    expectError(await request(a.app).get(`/auth/verify?t=${token}`), 400, "token_in_query");
    expectError(
      await request(a.app)
        .get("/auth/me")
        .set({ ...bearer(token), Cookie: cookie }),
      400,
      "credentials_conflict",
    );
    expectError(
      await request(a.app).post("/auth/token").set("Cookie", cookie).send({ email, password: TEST_PASSWORD }),
      400,
      "credentials_conflict",
    );
    expectError(
      await request(a.app).post("/auth/token").send({ email, password: "not the password" }),
      401,
      "invalid_credentials",
    );
    expectError(await request(a.app).delete("/auth/token").set("Cookie", cookie), 401, "unauthenticated");
  });

  it("answers a malformed, oversized, forged or foreign Authorization with one 401", async () => {
    const { email } = await registerUser(a);
    const { token } = await tokenFor(email);
    const forged = `${token.slice(0, -4)}AAAA`;
    for (const header of [
      "Bearer",
      `Bearer  ${token}`,
      "Basic dXNlcjpwYXNz",
      `Bearer ${token}${"x".repeat(600)}`,
      `Bearer ${forged}`,
      "Bearer rss_sess_nothing-signed",
      "Bearer some-other-token",
    ]) {
      const res = await request(a.app).get("/auth/me").set("Authorization", header);
      expectError(res, 401, "invalid_authorization");
      expect(res.headers["www-authenticate"]).toBe('Bearer error="invalid_token"');
    }
  });
});
