import request from "supertest";
import { describe, expect, it, vi } from "vitest";
import { type TestApp, uniquePrefix } from "../../helpers/app.js";
import { registerUser, testApp, waitUntil } from "../../helpers/fixtures.js";
import { sessionCookie, sessionCookieLine, sessionIdOf, uniqueEmail } from "../../helpers/session.js";
import { sleep } from "../../helpers/sleep.js";

const app = (env: Record<string, string> = {}): Promise<TestApp> => testApp({ env });

const register = (a: TestApp, headers: Record<string, string> = {}) =>
  registerUser(a, { email: uniqueEmail("sess"), password: "password-123", headers, requireCookie: false });

describe("session cookie", () => {
  it("is __Host-sid, Secure, HttpOnly, SameSite=Strict, Path=/ behind an HTTPS proxy (trust proxy 1)", async () => {
    const a = await app({ COOKIE_SECURE: "true", TRUST_PROXY: "1", SESSION_TTL_SECONDS: "3600" });
    const { res } = await register(a, { "X-Forwarded-Proto": "https" });
    const line = sessionCookieLine(res, "__Host-sid")!;
    expect(line).toBeDefined();
    const attrs = line.split(";").map((s) => s.trim());
    expect(attrs).toContain("HttpOnly");
    expect(attrs).toContain("Secure");
    expect(attrs).toContain("SameSite=Strict");
    expect(attrs).toContain("Path=/");
    expect(attrs.some((x) => x.toLowerCase().startsWith("domain="))).toBe(false);
    const expires = Date.parse(attrs.find((x) => x.startsWith("Expires="))!.slice("Expires=".length));
    expect(Math.abs(expires - (Date.now() + 3600_000))).toBeLessThan(5_000);
  });

  it("is not sent over plain HTTP when Secure is required (and no proxy says HTTPS)", async () => {
    const a = await app({ COOKIE_SECURE: "true", TRUST_PROXY: "0" });
    const { res } = await register(a, { "X-Forwarded-Proto": "https" });
    expect(res.headers["set-cookie"]).toBeUndefined();
  });

  it("follows SESSION_COOKIE_NAME and COOKIE_SAMESITE", async () => {
    const a = await app({ SESSION_COOKIE_NAME: "my_session", COOKIE_SAMESITE: "lax" });
    const { res } = await register(a);
    const line = sessionCookieLine(res, "my_session")!;
    expect(line).toContain("SameSite=Lax");
    expect(line).not.toContain("Secure");
  });
});

describe("session lifetime in Redis", () => {
  it("has a TTL close to SESSION_TTL_SECONDS, refreshed by a later request (rolling)", async () => {
    const a = await app({ SESSION_TTL_SECONDS: "600" });
    const { res } = await register(a);
    const cookie = sessionCookie(res, a.config.session.cookieName)!;
    const key = `${a.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;
    const ttl = await a.redis!.ttl(key);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);

    await a.redis!.expire(key, 100); // as if the session had been idle for 500 s
    const me = await request(a.app).get("/auth/me").set("Cookie", cookie);
    expect(me.status).toBe(200);
    expect(sessionCookie(me, a.config.session.cookieName)).toBe(cookie); // rolling: cookie re-sent
    expect(await a.redis!.ttl(key)).toBeGreaterThan(590);
  });

  it("ends after the idle timeout", async () => {
    const a = await app({ SESSION_TTL_SECONDS: "1", SESSION_ABSOLUTE_TTL_SECONDS: "60" });
    const { res } = await register(a);
    const idleFrom = Date.now();
    const cookie = sessionCookie(res, a.config.session.cookieName)!;
    const key = `${a.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;
    const pttl = await a.redis!.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(1000); // the idle timeout is Redis' own expiry on the key
    await waitUntil(async () => (await a.redis!.exists(key)) === 0);
    // The durable record (PostgreSQL) restores a session Redis lost early, never one idle past its timeout:
    // the idle second has really passed here, so nothing brings it back.
    await sleep(Math.max(0, idleFrom + 1050 - Date.now()));
    expect((await request(a.app).get("/auth/me").set("Cookie", cookie)).status).toBe(401);
  });

  it("ends a busy session at the absolute timeout", async () => {
    const a = await app({ SESSION_TTL_SECONDS: "2", SESSION_ABSOLUTE_TTL_SECONDS: "3" });
    // The app's clock moves 400 ms per request, in step with real time (Redis keeps the idle TTL in its
    // own), so a slow request on a busy machine cannot carry the session past the absolute limit.
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const started = Date.now();
      const { res } = await register(a);
      const cookie = sessionCookie(res, a.config.session.cookieName)!;
      const key = `${a.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;
      let lastOk = 0;
      let status = 200;
      for (let elapsed = 400; elapsed <= 6000 && status === 200; elapsed += 400) {
        await sleep(400);
        vi.setSystemTime(started + elapsed);
        status = (await request(a.app).get("/auth/me").set("Cookie", cookie)).status;
        if (status === 200) lastOk = elapsed;
      }
      expect(status).toBe(401);
      expect(lastOk).toBeGreaterThan(2000); // kept alive past the idle timeout by activity...
      expect(lastOk).toBeLessThan(4000); // ...but not past the absolute one
      expect(await a.redis!.exists(key)).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("several instances and restarts", () => {
  it("a second instance on the same Redis accepts the first one's cookie", async () => {
    const prefix = uniquePrefix();
    const a = await app({ KEY_PREFIX: prefix });
    const b = await app({ KEY_PREFIX: prefix });
    const { email, res } = await register(a);
    const cookie = sessionCookie(res, a.config.session.cookieName)!;
    const me = await request(b.app).get("/auth/me").set("Cookie", cookie);
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe(email);
    expect((await request(b.app).post("/auth/logout").set("Cookie", cookie)).status).toBe(204);
    expect((await request(a.app).get("/auth/me").set("Cookie", cookie)).status).toBe(401);
  });

  it("a session survives an app restart (new app, new Redis connection)", async () => {
    const prefix = uniquePrefix();
    const first = await app({ KEY_PREFIX: prefix });
    const { res } = await register(first);
    const cookie = sessionCookie(res, first.config.session.cookieName)!;
    await first.close();
    const second = await app({ KEY_PREFIX: prefix });
    expect((await request(second.app).get("/auth/me").set("Cookie", cookie)).status).toBe(200);
  });

  it("rotated secrets: a cookie signed with the old secret still verifies", async () => {
    const prefix = uniquePrefix();
    const oldSecret = "old-secret-old-secret-old-secret-0001";
    const newSecret = "new-secret-new-secret-new-secret-0002";
    const before = await app({ KEY_PREFIX: prefix, SESSION_SECRET: oldSecret });
    const { res } = await register(before);
    const cookie = sessionCookie(res, before.config.session.cookieName)!;
    const after = await app({ KEY_PREFIX: prefix, SESSION_SECRET: `${newSecret},${oldSecret}` });
    const me = await request(after.app).get("/auth/me").set("Cookie", cookie);
    expect(me.status).toBe(200);
    const unrelated = await app({ KEY_PREFIX: prefix, SESSION_SECRET: newSecret });
    expect((await request(unrelated.app).get("/auth/me").set("Cookie", cookie)).status).toBe(401);
  });
});
