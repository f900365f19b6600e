import request from "supertest";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { createPostgresDatabase } from "../../server/infra/db/database.js";
import { privateRedisServer, testApp } from "../helpers/fixtures.js";
import { silentLogger } from "../helpers/logger.js";
import { freePort } from "../helpers/ports.js";
import type { RedisServer } from "../helpers/redis-server.js";
import { sessionCookie, uniqueEmail } from "../helpers/session.js";

let redisServer: RedisServer;

beforeAll(async () => {
  redisServer = await privateRedisServer();
});

describe("Redis outage", () => {
  it("answers 503 fast while Redis is down and recovers without an app restart", async () => {
    const t = await testApp({ env: { REDIS_URL: redisServer.url } });
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
    const back = await vi.waitFor(
      async () => {
        const r = await request(t.app).post("/auth/login").send({ email, password: "password-123" });
        expect(r.status).toBe(200);
        return r;
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(back.status).toBe(200);
    const me = await request(t.app)
      .get("/auth/me")
      .set("Cookie", sessionCookie(back, t.config.session.cookieName)!);
    expect(me.status).toBe(200);
  });

  it("starts with Redis unreachable, answers 503, and connects when Redis appears", async () => {
    const later = await privateRedisServer();
    await later.kill();
    const t = await testApp({ env: { REDIS_URL: later.url } });
    const down = await request(t.app)
      .post("/auth/register")
      .send({ email: uniqueEmail("boot"), password: "password-123" });
    expect(down.status).toBe(503);
    await later.start();
    const up = await vi.waitFor(
      async () => {
        const r = await request(t.app)
          .post("/auth/register")
          .send({ email: uniqueEmail("boot"), password: "password-123" });
        expect(r.status).toBe(201);
        return r;
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(up.status).toBe(201);
  });
});

describe("Postgres outage", () => {
  it("answers 503 service_unavailable quickly when the database is unreachable", async () => {
    const port = await freePort();
    const deadDb = createPostgresDatabase(
      { url: `postgres://postgres@127.0.0.1:${port}/test`, poolMax: 2, timeoutMs: 500 },
      silentLogger(),
    );
    const t = await testApp({ db: deadDb, env: { REDIS_URL: redisServer.url } });
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
