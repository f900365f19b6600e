import request from "supertest";
import { describe, expect, it } from "vitest";
import type { Env } from "../../server/config/config.js";
import { testApp } from "../helpers/fixtures.js";

const ADMIN = "admin-key-for-health-details-tests";
const REDIS_SECRETS = [
  "audit",
  "used_memory",
  "used_memory_bytes",
  "primary",
  "error",
  "reason",
  "connected",
];

function app(env: Env = {}) {
  return testApp({
    env: { ADMIN_API_KEY: ADMIN, RATE_LIMIT_ADMIN_KEY_LIMIT: "3", TRUST_PROXY: "1", ...env },
  });
}

describe("health details", () => {
  it("anyone gets status and latency, with the probe's status code; nothing about the Redis server", async () => {
    const t = await app();
    const redis = await request(t.app).get("/health/redis").expect(200);
    expect(Object.keys(redis.body).sort()).toEqual(["latency", "latency_ms", "status"]);
    expect(redis.body.status).toBe("healthy");
    for (const key of REDIS_SECRETS) expect(redis.body).not.toHaveProperty(key);
    expect(redis.text).not.toMatch(/version|maxmemory|persistence|role/);

    const complete = await request(t.app).get("/health/complete").expect(200);
    for (const check of Object.values(complete.body.checks) as Array<Record<string, unknown>>) {
      expect(Object.keys(check).sort()).toEqual(["latency_ms", "status"]);
    }
    const ietf = await request(t.app).get("/health").set("Accept", "application/health+json").expect(200);
    expect(ietf.text).not.toMatch(/"output"/);
  });

  it("the admin key shows every detail; HEALTH_DETAILS=public shows them to anyone", async () => {
    const t = await app();
    const admin = await request(t.app)
      .get("/health/redis")
      .set("Authorization", `Bearer ${ADMIN}`)
      .set("X-Forwarded-For", "198.51.100.1")
      .expect(200);
    expect(admin.body).toMatchObject({ status: "healthy", connected: true });
    expect(admin.body.used_memory_bytes).toEqual(expect.any(Number));

    const open = await app({ HEALTH_DETAILS: "public" });
    const publicRedis = await request(open.app).get("/health/redis").expect(200);
    expect(publicRedis.body.used_memory_bytes).toEqual(expect.any(Number));
  });

  it("an unhealthy dependency keeps its status code without its reason", async () => {
    const t = await testApp({
      redis: false,
      env: { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: "http://127.0.0.1:9/v1", HEALTH_REQUIRED: "openai" },
    });
    const res = await request(t.app).get("/health/complete").expect(503);
    expect(res.body.status).toBe("unhealthy");
    expect(res.body.checks.openai).toEqual({ status: "unhealthy", latency_ms: expect.any(Number) });
  });
});

describe("admin key guesses are limited per address, wherever they are tried", () => {
  it("/metrics, /metrics/redis and health details: 401 for a wrong key, then 429 even for the right one; other addresses unaffected", async () => {
    const t = await app();
    const from = (path: string, key: string, ip: string) =>
      request(t.app).get(path).set("Authorization", `Bearer ${key}`).set("X-Forwarded-For", ip);
    const attacker = "203.0.113.9";
    await from("/metrics", "guess-1", attacker).expect(401);
    await from("/metrics/redis", "guess-2", attacker).expect(401);
    // A wrong key on a health path is no oracle: no details, and it counts too.
    const probe = await from("/health/redis", "guess-3", attacker).expect(200);
    expect(probe.body).not.toHaveProperty("used_memory_bytes");
    const limited = await from("/metrics", ADMIN, attacker);
    expect(limited.status).toBe(429);
    expect(limited.headers["retry-after"]).toBeDefined();
    await from("/health/redis", "guess-4", attacker).expect(429);

    // The scraper, from its own address, with the right key, any number of times (right keys are given back).
    for (let i = 0; i < 5; i++) await from("/metrics", ADMIN, "198.51.100.2").expect(200);
    // A probe without a key is never counted.
    for (let i = 0; i < 5; i++)
      await request(t.app).get("/health/complete").set("X-Forwarded-For", attacker).expect(200);
  });
});
