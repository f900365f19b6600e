import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/app.js";
import { type FakeOpenAI, startFakeOpenAI } from "../helpers/fake-openai.js";
import { privateRedisServer, registerUser, testApp } from "../helpers/fixtures.js";
import type { RedisServer } from "../helpers/redis-server.js";

const ADMIN_KEY = "admin-key-0123456789abcdef";
let redisServer: RedisServer;
let openai: FakeOpenAI;
let t: TestApp;
let cookie: string;

beforeAll(async () => {
  redisServer = await privateRedisServer();
  openai = await startFakeOpenAI();
  t = await testApp({
    env: {
      REDIS_URL: redisServer.url,
      // Generous Redis budgets: on a busy test machine a slow reply must not look like an outage.
      REDIS_COMMAND_TIMEOUT_MS: "5000",
      CACHE_L2_TIMEOUT_MS: "5000",
      ADMIN_API_KEY: ADMIN_KEY,
      OPENAI_API_KEY: "sk-test",
      OPENAI_BASE_URL: openai.baseUrl,
    },
  });
  ({ cookie } = await registerUser(t));
});

afterAll(async () => {
  await openai?.close();
});

const auth = { Authorization: `Bearer ${ADMIN_KEY}` };

describe("admin cache API", () => {
  it("does not exist without ADMIN_API_KEY", async () => {
    const bare = await testApp({ env: { REDIS_URL: redisServer.url } });
    try {
      expect((await request(bare.app).get("/api/cache/metrics").set(auth)).status).toBe(404);
      expect((await request(bare.app).post("/api/cache/invalidate").send({ category: "all" })).status).toBe(
        404,
      );
    } finally {
      await bare.close();
    }
  });

  it("rejects a missing or wrong bearer token, even with a logged-in session", async () => {
    for (const headers of [
      {},
      { Authorization: "Bearer wrong-key-0123456789abc" },
      { Authorization: ADMIN_KEY },
    ]) {
      const res = await request(t.app).get("/api/cache/metrics").set(headers).set("Cookie", cookie);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe("unauthorized");
      const post = await request(t.app).post("/api/cache/invalidate").set(headers).send({ category: "all" });
      expect(post.status).toBe(401);
    }
  });

  it("reports Redis key counts and per-category metrics with the token alone (no session)", async () => {
    expect((await request(t.app).get("/api/models").set("Cookie", cookie)).headers["x-cache"]).toBe("MISS");
    expect((await request(t.app).get("/api/models").set("Cookie", cookie)).headers["x-cache"]).toBe("HIT");

    const res = await request(t.app).get("/api/cache/metrics").set(auth);
    expect(res.status).toBe(200);
    expect(res.headers["set-cookie"]).toBeUndefined();
    expect(res.body.redis).toMatchObject({
      total_keys: 2, // the model list and the logged-in user
      pattern: `${t.config.keyPrefix}:cache:*`,
      keys_by_category: { models: 1, users: 1 },
      breaker: "closed",
    });
    expect(res.body.metrics.models).toMatchObject({ hits: 1, misses: 1, hitRate: 0.5, loaderErrors: 0 });
    expect(res.body.metrics.users.hits + res.body.metrics.users.misses).toBeGreaterThan(0);

    // The same counters reach Prometheus through the metrics hook.
    const prometheus = (await request(t.app).get("/metrics").set(auth)).text;
    const sample = (name: string, ...labels: string[]) =>
      prometheus
        .split("\n")
        .filter((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)))
        .map((l) => Number(l.split(" ").at(-1)));
    expect(sample("cache_hits_total", 'category="models"', 'tier="l1"')).toEqual([1]);
    expect(sample("cache_misses_total", 'category="models"')).toEqual([1]);

    const legacy = await request(t.app).get("/api/cache/invalidate?metrics=true").set(auth);
    expect(legacy.status).toBe(200);
    expect(Object.keys(legacy.body)).toEqual(Object.keys(res.body));
    expect(legacy.body.redis.total_keys).toBe(2);
    expect((await request(t.app).get("/api/cache/invalidate").set(auth)).status).toBe(400);
  });

  it("invalidates one category or all, and refuses unknown categories and bad bodies", async () => {
    await request(t.app).get("/api/models").set("Cookie", cookie);
    const models = await request(t.app).post("/api/cache/invalidate").set(auth).send({ category: "models" });
    expect(models.status).toBe(200);
    expect(models.body).toEqual({ invalidated: ["models"], redis: "ok" });
    expect((await request(t.app).get("/api/models").set("Cookie", cookie)).headers["x-cache"]).toBe("MISS");
    expect((await request(t.app).get("/auth/me").set("Cookie", cookie)).status).toBe(200);

    const all = await request(t.app).post("/api/cache/invalidate").set(auth).send({ category: "all" });
    expect(all.body).toEqual({ invalidated: ["models", "users", "tokens"], redis: "ok" });
    expect((await request(t.app).get("/api/cache/metrics").set(auth)).body.redis.total_keys).toBe(0);

    for (const body of [{ category: "sessions" }, { category: 3 }, {}, ["models"]]) {
      const res = await request(t.app).post("/api/cache/invalidate").set(auth).send(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_request", field: "category" });
    }
    const text = await request(t.app)
      .post("/api/cache/invalidate")
      .set(auth)
      .set("Content-Type", "text/plain")
      .send("all");
    expect(text.status).toBe(415);
    const broken = await request(t.app)
      .post("/api/cache/invalidate")
      .set(auth)
      .set("Content-Type", "application/json")
      .send("{");
    expect(broken.status).toBe(400);
  });

  it("stays honest while Redis is down: metrics without a key count, invalidation answers 503", async () => {
    await redisServer.kill();
    try {
      const metrics = await request(t.app).get("/api/cache/metrics").set(auth).timeout(5000);
      expect(metrics.status).toBe(200);
      expect(metrics.body.redis.total_keys).toBeNull();
      const res = await request(t.app)
        .post("/api/cache/invalidate")
        .set(auth)
        .send({ category: "models" })
        .timeout(5000);
      expect(res.status).toBe(503);
      expect(res.headers["retry-after"]).toBe("5");
      expect(res.body.error).toMatchObject({ code: "service_unavailable", invalidated: ["models"] });
    } finally {
      await redisServer.start();
    }
  });
});
