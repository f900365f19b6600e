import { Cluster } from "ioredis";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testHealthApp } from "../../helpers/fixtures.js";
import type { HealthTestApp } from "../../helpers/health-app.js";
import { type RedisCluster, startRedisCluster } from "../../helpers/redis-cluster.js";

const ADMIN_KEY = "admin-key-for-cluster-tests-0123";

// A cluster of its own: the key metrics count every key on every master.
let cluster: RedisCluster;
let t: HealthTestApp;

beforeAll(async () => {
  cluster = await startRedisCluster();
  t = await testHealthApp({
    env: { REDIS_URL: cluster.url, REDIS_CLUSTER: "true", ADMIN_API_KEY: ADMIN_KEY },
  });
});

afterAll(async () => {
  await t?.close();
  await cluster?.stop();
});

describe("health and metrics on a 3-master Redis Cluster", () => {
  it("checks the cluster and counts keys on every master", async () => {
    expect(t.redis).toBeInstanceOf(Cluster);
    for (let i = 0; i < 4; i++) {
      const res = await request(t.app)
        .post("/auth/register")
        .send({ email: `cluster-health-${i}-${Date.now()}@example.com`, password: "password-123" });
      expect(res.status).toBe(201);
    }
    // Keys in different slots, so they land on different masters.
    for (let i = 0; i < 9; i++) await t.redis!.set(`${t.config.keyPrefix}:cache:users:{u${i}}`, "{}");

    const complete = await request(t.app).get("/health/complete");
    expect(complete.status).toBe(200);
    expect(complete.body.checks.redis.status).toBe("healthy");
    const redis = await request(t.app).get("/health/redis");
    expect(redis.status).toBe(200);
    expect(redis.body.used_memory_bytes).toBeGreaterThan(0);
    // The fitness audit reads every master.
    expect(redis.body.audit.nodes).toHaveLength(3);
    expect(redis.body.audit.nodes.every((n: { role: string }) => n.role === "master")).toBe(true);

    const metrics = await request(t.app).get("/metrics/redis").set("Authorization", `Bearer ${ADMIN_KEY}`);
    expect(metrics.status).toBe(200);
    const keys = metrics.body.metrics.keys;
    // Registration also left rate-limit counters (global and login policies).
    expect(keys.rate_limit).toBeGreaterThanOrEqual(2);
    expect(keys).toEqual({
      sessions: 4,
      // Each registered user's session index: two keys (metadata and last seen).
      session_index: 8,
      cache: 9,
      rate_limit: keys.rate_limit,
      // The mail queue's own keys, on the one slot of its hash tag (how many depends on BullMQ).
      jobs: keys.jobs,
      // Plus the health probe's own short-lived key.
      total: 22 + keys.rate_limit + keys.jobs,
      sampled: 22 + keys.rate_limit + keys.jobs,
      estimated: false,
    });
    expect(metrics.body.metrics.connections.connected_clients).toBeGreaterThanOrEqual(3);

    const text = (await request(t.app).get("/metrics").set("Authorization", `Bearer ${ADMIN_KEY}`)).text;
    expect(text).toMatch(/^sessions_active\{store="redis"\} 4$/m);
    expect(text).toMatch(/^dependency_up\{dependency="redis"\} 1$/m);
  });
});
