import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "./helpers/app.js";
import { createTestDatabase, type TestDatabase } from "./helpers/database.js";
import { type RedisServer, startRedisServer } from "./helpers/redis-server.js";

let redisServer: RedisServer;
let database: TestDatabase;
let t: TestApp;

beforeAll(async () => {
  redisServer = await startRedisServer();
  database = await createTestDatabase();
  t = await buildTestApp({ db: database.db, env: { REDIS_URL: redisServer.url } });
});

afterAll(async () => {
  await t?.close();
  await database?.close();
  await redisServer?.stop();
});

function sessionCookie(res: request.Response): string | undefined {
  const cookies = ([] as string[]).concat(res.headers["set-cookie"] ?? []);
  return cookies.find((c) => c.startsWith(`${t.config.session.cookieName}=`))?.split(";")[0];
}

function sessionId(cookie: string): string {
  const value = decodeURIComponent(cookie.split("=")[1] ?? "");
  return value.slice(2, value.lastIndexOf("."));
}

describe("register, login, me, logout", () => {
  it("walks the whole life of a session", async () => {
    const email = `walk-${Date.now()}@example.com`;
    const reg = await request(t.app)
      .post("/auth/register")
      .send({ email: ` ${email.toUpperCase()} `, password: "correct horse" });
    expect(reg.status).toBe(201);
    expect(reg.body.user).toMatchObject({ email, id: expect.any(String), createdAt: expect.any(String) });
    expect(reg.body.user.passwordHash).toBeUndefined();
    const regCookie = sessionCookie(reg);
    expect(regCookie).toBeDefined();

    const me = await request(t.app).get("/auth/me").set("Cookie", regCookie!);
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe(email);
    expect(me.headers["cache-control"]).toBe("no-store");

    const login = await request(t.app).post("/auth/login").send({ email, password: "correct horse" });
    expect(login.status).toBe(200);
    const cookie = sessionCookie(login)!;
    const key = `${t.config.keyPrefix}:sess:${sessionId(cookie)}`;
    expect(await t.redis!.exists(key)).toBe(1);

    const logout = await request(t.app).post("/auth/logout").set("Cookie", cookie);
    expect(logout.status).toBe(204);
    expect(await t.redis!.exists(key)).toBe(0);
    expect(logout.headers["set-cookie"]?.[0]).toMatch(/Expires=Thu, 01 Jan 1970/);

    const after = await request(t.app).get("/auth/me").set("Cookie", cookie);
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ error: { code: "unauthenticated", message: expect.any(String) } });
  });
});
