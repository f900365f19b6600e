import { Cluster, Redis } from "ioredis";
import request from "supertest";
import { afterAll, describe, expect, it } from "vitest";
import { type TestApp, uniquePrefix } from "../helpers/app.js";
import { sharedRedisCluster, testApp } from "../helpers/fixtures.js";
import { sessionCookie, uniqueEmail } from "../helpers/session.js";

const apps: TestApp[] = [];

afterAll(async () => {
  for (const a of apps) await a.close();
});

describe("on Redis Cluster", () => {
  it("serves sessions from a 3-master cluster, shared by two instances", async () => {
    const prefix = uniquePrefix();
    const env = { REDIS_URL: sharedRedisCluster().url, REDIS_CLUSTER: "true", KEY_PREFIX: prefix };
    const a = await testApp({ env });
    const b = await testApp({ env });
    apps.push(a, b);
    expect(a.redis).toBeInstanceOf(Cluster);

    const cookies: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await request(a.app)
        .post("/auth/register")
        .send({ email: uniqueEmail("cluster"), password: "password-123" });
      expect(res.status).toBe(201);
      cookies.push(sessionCookie(res, a.config.session.cookieName)!);
    }
    for (const cookie of cookies)
      expect((await request(b.app).get("/auth/me").set("Cookie", cookie)).status).toBe(200);

    // The session keys landed on more than one master: the cluster really shards them.
    const owners = new Set<number>();
    for (const port of sharedRedisCluster().ports) {
      const direct = new Redis({ port, lazyConnect: true });
      await direct.connect();
      if ((await direct.keys(`${prefix}*`)).length > 0) owners.add(port);
      direct.disconnect();
    }
    expect(owners.size).toBeGreaterThan(1);

    expect((await request(b.app).post("/auth/logout").set("Cookie", cookies[0]!)).status).toBe(204);
    expect((await request(a.app).get("/auth/me").set("Cookie", cookies[0]!)).status).toBe(401);
  });
});
