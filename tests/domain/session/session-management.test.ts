import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { type TestApp, uniquePrefix } from "../../helpers/app.js";
import { login as loginAs, registerUser, testApp } from "../../helpers/fixtures.js";
import { sessionCookie, sessionIdOf, uniqueEmail } from "../../helpers/session.js";

let a: TestApp;
let b: TestApp;

beforeAll(async () => {
  // Two instances of the app sharing one Redis and one database, as behind a load balancer.
  // Many logins from one address: the login rate limit is not what these tests are about.
  const env = { KEY_PREFIX: uniquePrefix(), RATE_LIMIT_LOGIN_LIMIT: "1000" };
  a = await testApp({ env });
  b = await testApp({ env });
});

const PASSWORD = "correct horse battery";
const newEmail = () => uniqueEmail("sessions");

function cookieOf(res: request.Response, name: string): string {
  const cookie = sessionCookie(res, name);
  if (!cookie) throw new Error("no session cookie in the response");
  return cookie;
}

const sidOf = sessionIdOf;

async function register(
  t: TestApp,
  email = newEmail(),
  userAgent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
) {
  const { cookie } = await registerUser(t, {
    email,
    password: PASSWORD,
    headers: { "User-Agent": userAgent },
  });
  return { email, cookie };
}

async function login(
  t: TestApp,
  email: string,
  userAgent = "Mozilla/5.0 (Macintosh; Mac OS X 14_0) Safari/605.1",
  password = PASSWORD,
) {
  return (await loginAs(t, email, { password, headers: { "User-Agent": userAgent } })).cookie;
}

const me = (t: TestApp, cookie: string) => request(t.app).get("/auth/me").set("Cookie", cookie);
const list = (t: TestApp, cookie: string) => request(t.app).get("/auth/sessions").set("Cookie", cookie);

describe("GET /auth/sessions", () => {
  it("lists every session of the user with opaque ids, marking the current one", async () => {
    const { email, cookie: first } = await register(a);
    const second = await login(b, email);
    const other = await register(a); // another user's session must not show up

    const res = await list(a, first);
    expect(res.status).toBe(200);
    expect(res.body.sessions).toHaveLength(2);
    const [current, rest] = res.body.sessions;
    expect(current).toMatchObject({
      current: true,
      userAgent: expect.stringContaining("Firefox"),
      ip: expect.any(String),
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      lastSeenAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(rest).toMatchObject({ current: false, userAgent: expect.stringContaining("Safari") });
    for (const s of res.body.sessions) {
      for (const secret of [sidOf(first), sidOf(second), sidOf(other.cookie)]) {
        expect(s.id).not.toContain(secret);
        expect(secret).not.toContain(s.id);
      }
    }
    // Seen from the other session, the flags swap and the ids stay the same.
    const fromSecond = await list(b, second);
    expect(fromSecond.body.sessions.find((s: { current: boolean }) => s.current).id).toBe(rest.id);
  });

  it("answers 401 without a session", async () => {
    const res = await request(a.app).get("/auth/sessions");
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("unauthenticated");
  });

  it("drops sessions that expired or logged out, without scanning the keyspace", async () => {
    const { email, cookie } = await register(a);
    const gone = await login(a, email);
    const loggedOut = await login(a, email);
    expect((await list(a, cookie)).body.sessions).toHaveLength(3);

    expect((await request(a.app).post("/auth/logout").set("Cookie", loggedOut)).status).toBe(204);
    // Expiry: Redis drops the session key by itself; the index learns it on the next read.
    await a.redis!.del(`${a.config.keyPrefix}:sess:${sidOf(gone)}`);
    const userId = (await me(a, cookie)).body.user.id;
    const metaKey = `${a.config.keyPrefix}:sess-index:{${userId}}:meta`;
    await backdate(metaKey, sidOf(gone));

    const res = await list(a, cookie);
    expect(res.body.sessions).toHaveLength(1);
    expect(res.body.sessions[0].current).toBe(true);
    expect(await a.redis!.hkeys(metaKey)).toEqual([sidOf(cookie)]);
    expect(await a.redis!.pttl(metaKey)).toBeGreaterThan(0);
  });
});

/** Makes an index entry look older than the pruning grace period (a few seconds after login). */
async function backdate(metaKey: string, sid: string) {
  const meta = JSON.parse((await a.redis!.hget(metaKey, sid)) as string);
  meta.createdAt -= 60_000;
  await a.redis!.hset(metaKey, sid, JSON.stringify(meta));
}

describe("DELETE /auth/sessions/:id", () => {
  it("ends another session at once, also on the other instance", async () => {
    const { email, cookie: mine } = await register(a);
    const theirs = await login(b, email);
    expect((await me(b, theirs)).status).toBe(200);

    const target = (await list(a, mine)).body.sessions.find((s: { current: boolean }) => !s.current);
    const del = await request(a.app).delete(`/auth/sessions/${target.id}`).set("Cookie", mine);
    expect(del.status).toBe(204);

    const after = await me(b, theirs);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe("unauthenticated");
    expect((await me(a, mine)).status).toBe(200);
    expect((await list(a, mine)).body.sessions).toHaveLength(1);
  });

  it("answers 404 for an id that is not one of the user's sessions, and changes nothing", async () => {
    const victim = await register(a);
    const victimId = (await list(a, victim.cookie)).body.sessions[0].id;
    const { cookie } = await register(a);

    for (const id of [victimId, "nope", sidOf(victim.cookie)]) {
      const res = await request(a.app)
        .delete(`/auth/sessions/${encodeURIComponent(id)}`)
        .set("Cookie", cookie);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe("not_found");
    }
    expect((await me(a, victim.cookie)).status).toBe(200);
  });

  it("ending the current session logs this client out", async () => {
    const { cookie } = await register(a);
    const id = (await list(a, cookie)).body.sessions[0].id;
    const res = await request(a.app).delete(`/auth/sessions/${id}`).set("Cookie", cookie);
    expect(res.status).toBe(204);
    expect(String(res.headers["set-cookie"])).toMatch(/Expires=Thu, 01 Jan 1970/);
    expect((await me(a, cookie)).status).toBe(401);
  });
});

describe("POST /auth/sessions/revoke-others", () => {
  it("ends every other session of the user and keeps this one", async () => {
    const { email, cookie: mine } = await register(a);
    const others = [await login(a, email), await login(b, email), await login(b, email)];
    const stranger = await register(b);

    const res = await request(b.app).post("/auth/sessions/revoke-others").set("Cookie", mine);
    expect(res.status).toBe(204);

    for (const cookie of others) expect((await me(a, cookie)).status).toBe(401);
    expect((await me(a, mine)).status).toBe(200);
    expect((await me(a, stranger.cookie)).status).toBe(200);
    expect((await list(a, mine)).body.sessions).toHaveLength(1);
  });
});

describe("lastSeenAt", () => {
  it("is written at most once a minute per session", async () => {
    const { cookie } = await register(a);
    const userId = (await me(a, cookie)).body.user.id;
    const seenKey = `${a.config.keyPrefix}:sess-index:{${userId}}:seen`;
    const before = await a.redis!.zscore(seenKey, sidOf(cookie));
    for (let i = 0; i < 5; i++) expect((await me(b, cookie)).status).toBe(200);
    expect(await a.redis!.zscore(seenKey, sidOf(cookie))).toBe(before);

    // A minute later (the session says so), the next request records the activity once.
    const sessionKey = `${a.config.keyPrefix}:sess:${sidOf(cookie)}`;
    const stored = JSON.parse((await a.redis!.get(sessionKey)) as string);
    stored.auth.lastSeenAt = (stored.auth.lastSeenAt ?? stored.auth.loginAt) - 61_000;
    await a.redis!.set(sessionKey, JSON.stringify(stored), "KEEPTTL");
    await me(a, cookie);
    const updated = Number(await a.redis!.zscore(seenKey, sidOf(cookie)));
    expect(updated).toBeGreaterThan(Number(before));
    await me(a, cookie);
    expect(Number(await a.redis!.zscore(seenKey, sidOf(cookie)))).toBe(updated);
    const listed = (await list(a, cookie)).body.sessions[0];
    expect(Date.parse(listed.lastSeenAt)).toBe(updated);
  });
});

describe("POST /auth/password", () => {
  const change = (cookie: string, body: unknown) =>
    request(a.app)
      .post("/auth/password")
      .set("Cookie", cookie)
      .send(body as object);

  it("changes the password, ends every other session and renews the current session id", async () => {
    const { email, cookie } = await register(a);
    const other = await login(b, email);
    const id = (await me(b, other)).body.user.id;
    const cached = a.cache.keys.value("users", 0, id);
    expect(await a.redis!.exists(cached)).toBe(1);

    const res = await change(cookie, { currentPassword: PASSWORD, newPassword: "a brand new secret" });
    expect(res.status).toBe(204);
    // The cached copy of the user is dropped with the change.
    expect(await a.redis!.exists(cached)).toBe(0);
    const renewed = cookieOf(res, a.config.session.cookieName);
    expect(sidOf(renewed)).not.toBe(sidOf(cookie));

    expect((await me(a, cookie)).status).toBe(401);
    expect((await me(b, other)).status).toBe(401);
    expect((await me(b, renewed)).body.user.email).toBe(email);
    const sessions = (await list(a, renewed)).body.sessions;
    expect(sessions).toHaveLength(1);
    expect(sessions[0].current).toBe(true);

    const old = await request(a.app).post("/auth/login").send({ email, password: PASSWORD });
    expect(old.status).toBe(401);
    await login(b, email, "curl/8.0", "a brand new secret");
  });

  it("refuses a wrong current password or a weak new one and changes nothing", async () => {
    const { email, cookie } = await register(a);
    const other = await login(a, email);

    const wrong = await change(cookie, {
      currentPassword: "not my password",
      newPassword: "a brand new secret",
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toMatchObject({ code: "wrong_password", field: "currentPassword" });

    const weak = await change(cookie, { currentPassword: PASSWORD, newPassword: "short" });
    expect(weak.status).toBe(400);
    expect(weak.body.error).toMatchObject({ code: "invalid_request", field: "newPassword" });

    const missing = await change(cookie, { newPassword: "a brand new secret" });
    expect(missing.status).toBe(400);
    expect(missing.body.error.field).toBe("currentPassword");

    const form = await request(a.app)
      .post("/auth/password")
      .set("Cookie", cookie)
      .type("form")
      .send({ currentPassword: PASSWORD, newPassword: "a brand new secret" });
    expect(form.status).toBe(415);

    expect((await me(a, cookie)).status).toBe(200);
    expect((await me(a, other)).status).toBe(200);
    await login(a, email);
  });

  it("answers 401 without a session", async () => {
    const res = await request(a.app)
      .post("/auth/password")
      .send({ currentPassword: PASSWORD, newPassword: "a brand new secret" });
    expect(res.status).toBe(401);
  });
});

describe("without Redis (embedded mode)", () => {
  it("lists, revokes and changes passwords with the in-process store", async () => {
    const t = await testApp({ redis: false, env: { RATE_LIMIT_LOGIN_LIMIT: "1000" } });
    try {
      const { email, cookie } = await register(t);
      const other = await login(t, email);
      const third = await login(t, email);
      const sessions = (await list(t, cookie)).body.sessions;
      expect(sessions).toHaveLength(3);

      const target = sessions.find((s: { current: boolean }) => !s.current);
      expect((await request(t.app).delete(`/auth/sessions/${target.id}`).set("Cookie", cookie)).status).toBe(
        204,
      );
      expect((await list(t, cookie)).body.sessions).toHaveLength(2);

      const res = await request(t.app)
        .post("/auth/password")
        .set("Cookie", cookie)
        .send({ currentPassword: PASSWORD, newPassword: "a brand new secret" });
      expect(res.status).toBe(204);
      for (const c of [cookie, other, third]) expect((await me(t, c)).status).toBe(401);
      const renewed = cookieOf(res, t.config.session.cookieName);
      expect((await list(t, renewed)).body.sessions).toHaveLength(1);
    } finally {
      await t.close();
    }
  });
});
