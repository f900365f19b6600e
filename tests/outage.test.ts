import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresDatabase } from "../server/db/database.js";
import { buildTestApp, type TestApp } from "./helpers/app.js";
import { createTestDatabase, type TestDatabase } from "./helpers/database.js";
import { silentLogger } from "./helpers/logger.js";
import { freePort } from "./helpers/ports.js";
import { type RedisServer, startRedisServer } from "./helpers/redis-server.js";
import { sessionCookie, uniqueEmail } from "./helpers/session.js";

let redisServer: RedisServer;
let database: TestDatabase;
const apps: TestApp[] = [];

beforeAll(async () => {
  redisServer = await startRedisServer();
  database = await createTestDatabase();
});

afterAll(async () => {
  for (const a of apps) await a.close();
  await database?.close();
  await redisServer?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (ok(value) || Date.now() > deadline) return value;
    await sleep(100);
  }
}

describe("Redis outage", () => {
  it("answers 503 fast while Redis is down and recovers without an app restart", async () => {
    const t = await buildTestApp({ db: database.db, env: { REDIS_URL: redisServer.url } });
    apps.push(t);
    const email = uniqueEmail("outage");
    const reg = await request(t.app).post("/auth/register").send({ email, password: "password-123" });
    const cookie = sessionCookie(reg, t.config.session.cookieName)!;

    await redisServer.kill();
    const started = Date.now();
    const down = await request(t.app).get("/auth/me").set("Cookie", cookie);
    const elapsed = Date.now() - started;
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe("service_unavailable");
    expect(down.headers["retry-after"]).toBeDefined();
    expect(elapsed).toBeLessThan(1000);

    const login = await request(t.app).post("/auth/login").send({ email, password: "password-123" });
    expect(login.status).toBe(503);
    expect((await request(t.app).get("/health/live")).status).toBe(200);

    await redisServer.start(); // empty: no persistence, so the old session is gone
    const back = await until(
      () => request(t.app).post("/auth/login").send({ email, password: "password-123" }),
      (r) => r.status === 200,
      15_000,
    );
    expect(back.status).toBe(200);
    const me = await request(t.app)
      .get("/auth/me")
      .set("Cookie", sessionCookie(back, t.config.session.cookieName)!);
    expect(me.status).toBe(200);
  });

  it("starts with Redis unreachable, answers 503, and connects when Redis appears", async () => {
    const later = await startRedisServer();
    await later.kill();
    const t = await buildTestApp({ db: database.db, env: { REDIS_URL: later.url } });
    apps.push(t);
    const down = await request(t.app)
      .post("/auth/register")
      .send({ email: uniqueEmail("boot"), password: "password-123" });
    expect(down.status).toBe(503);
    await later.start();
    const up = await until(
      () =>
        request(t.app)
          .post("/auth/register")
          .send({ email: uniqueEmail("boot"), password: "password-123" }),
      (r) => r.status === 201,
      15_000,
    );
    expect(up.status).toBe(201);
    await later.stop();
  });
});

describe("Postgres outage", () => {
  it("answers 503 service_unavailable quickly when the database is unreachable", async () => {
    const port = await freePort();
    const deadDb = createPostgresDatabase(
      { url: `postgres://postgres@127.0.0.1:${port}/test`, poolMax: 2, timeoutMs: 500 },
      silentLogger(),
    );
    const t = await buildTestApp({ db: deadDb, env: { REDIS_URL: redisServer.url } });
    apps.push(t);
    const started = Date.now();
    const res = await request(t.app)
      .post("/auth/login")
      .send({ email: uniqueEmail("pg"), password: "password-123" });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("service_unavailable");
    expect(JSON.stringify(res.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
    expect(Date.now() - started).toBeLessThan(2000);
    await deadDb.close();
  });
});
