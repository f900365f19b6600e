import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { createCache } from "../../../server/domain/cache/cache.js";
import { createMetrics } from "../../../server/domain/metrics/metrics.js";
import { privateRedisServer, type SharedRedis, sharedRedis, testHealthApp } from "../../helpers/fixtures.js";
import type { HealthTestApp } from "../../helpers/health-app.js";
import { silentLogger } from "../../helpers/logger.js";
import { sleep } from "../../helpers/sleep.js";

const ADMIN_KEY = "admin-key-for-metrics-tests-0123";

let redisServer: SharedRedis;

beforeAll(async () => {
  redisServer = await sharedRedis();
});

function build(
  env: Record<string, string> = {},
  options: Omit<Parameters<typeof testHealthApp>[0], "env"> = {},
) {
  return testHealthApp({ env: { REDIS_URL: redisServer.url, ADMIN_API_KEY: ADMIN_KEY, ...env }, ...options });
}

const bearer = (key = ADMIN_KEY) => ({ Authorization: `Bearer ${key}` });

/** The value of one sample line in the Prometheus text, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^([^{ ]+)(?:\{(.*)\})? (.+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const m of (match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) found[m[1] as string] = m[2] as string;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

async function register(t: HealthTestApp, email: string) {
  const res = await request(t.app).post("/auth/register").send({ email, password: "correct horse battery" });
  expect(res.status).toBe(201);
  return String(res.headers["set-cookie"]?.[0] ?? "").split(";")[0] as string;
}

describe("admin guard", () => {
  it("rejects a missing or wrong key on /metrics and /metrics/redis, and hides them without ADMIN_API_KEY", async () => {
    const t = await build();
    for (const path of ["/metrics", "/metrics/redis"]) {
      const missing = await request(t.app).get(path);
      expect(missing.status).toBe(401);
      expect(missing.body.error.code).toBe("unauthorized");
      expect(missing.headers["www-authenticate"]).toMatch(/^Bearer/);
      const wrong = await request(t.app).get(path).set(bearer("not-the-admin-key-at-all"));
      expect(wrong.status).toBe(401);
      expect(wrong.text).not.toContain("http_request_duration_seconds");
      expect(missing.headers["set-cookie"]).toBeUndefined();
    }
    const hidden = await testHealthApp({ env: { REDIS_URL: redisServer.url } });
    expect((await request(hidden.app).get("/metrics").set(bearer())).status).toBe(404);
    expect((await request(hidden.app).get("/metrics/redis").set(bearer())).status).toBe(404);
  });

  it("METRICS_PUBLIC=true opens /metrics only", async () => {
    const t = await build({ METRICS_PUBLIC: "true" });
    const res = await request(t.app).get("/metrics");
    expect(res.status).toBe(200);
    expect(res.text).toContain("# TYPE http_request_duration_seconds histogram");
    expect((await request(t.app).get("/metrics/redis")).status).toBe(401);
  });
});

describe("GET /metrics", () => {
  it("exposes request durations by route pattern, auth counters, sessions, dependency gauges and process metrics", async () => {
    const t = await build({}, { processMetrics: true });
    const email = `metrics-${Date.now()}@example.com`;
    const cookie = await register(t, email);
    const wrong = await request(t.app).post("/auth/login").send({ email, password: "wrong password" });
    expect(wrong.status).toBe(401);
    const login = await request(t.app).post("/auth/login").send({ email, password: "correct horse battery" });
    expect(login.status).toBe(200);
    expect((await request(t.app).post("/auth/logout").set("Cookie", cookie)).status).toBe(204);
    await request(t.app).get("/no-such-page-7f3a9c");
    await request(t.app).get("/health/live");

    const res = await request(t.app).get("/metrics").set(bearer());
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.text;

    // The matched pattern, whether the route answered or threw to the app's error handler.
    expect(sample(text, "http_request_duration_seconds_count", { route: "/auth/login", status: "401" })).toBe(
      1,
    );
    expect(sample(text, "http_request_duration_seconds_count", { route: "/auth/login", status: "200" })).toBe(
      1,
    );
    expect(
      sample(text, "http_request_duration_seconds_count", { route: "/auth/register", method: "POST" }),
    ).toBe(1);
    expect(sample(text, "http_request_duration_seconds_count", { route: "none", status: "404" })).toBe(1);
    expect(
      sample(text, "http_request_duration_seconds_count", { route: "/health/live", status: "200" }),
    ).toBe(1);
    expect(text).not.toContain("no-such-page-7f3a9c");

    expect(sample(text, "auth_logins_total")).toBe(2);
    expect(sample(text, "auth_login_failures_total")).toBe(1);
    expect(sample(text, "auth_logouts_total")).toBe(1);
    // Register's session was logged out; the login's session remains.
    expect(sample(text, "sessions_active", { store: "redis" })).toBe(1);

    expect(sample(text, "dependency_up", { dependency: "database" })).toBe(1);
    expect(sample(text, "dependency_up", { dependency: "redis" })).toBe(1);
    expect(sample(text, "dependency_up", { dependency: "openai" })).toBeUndefined();
    expect(sample(text, "dependency_check_duration_seconds", { dependency: "redis" })).toBeGreaterThanOrEqual(
      0,
    );

    expect(sample(text, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(sample(text, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
    expect(res.headers["set-cookie"]).toBeUndefined();
  });

  it("shows Redis as down in dependency_up when it is killed", async () => {
    const own = await privateRedisServer();
    try {
      const t = await build({ REDIS_URL: own.url, HEALTH_CHECK_TIMEOUT_MS: "1000" });
      await own.kill();
      const text = (await request(t.app).get("/metrics").set(bearer())).text;
      expect(sample(text, "dependency_up", { dependency: "redis" })).toBe(0);
      expect(sample(text, "dependency_up", { dependency: "database" })).toBe(1);
      expect(sample(text, "sessions_active")).toBeUndefined();
    } finally {
      await own.stop();
    }
  });

  it("keeps one registry per app and reads the cache's own counters at every scrape", async () => {
    const a = await build();
    const b = await build();
    const load = async () => ({ loaded: true });
    await a.cache.getOrSet("models", "l1", load); // miss
    await a.cache.getOrSet("models", "l1", load); // L1 hit
    await a.cache.getOrSet("models", "l1", load); // L1 hit
    // Written by another instance on the same Redis: this one finds it in L2 only.
    const other = createCache({
      redis: a.redis,
      prefix: a.config.keyPrefix,
      logger: silentLogger(),
      config: a.config.cache,
      subscribe: false,
    });
    await other.set("models", "l2", { loaded: true });
    await other.close();
    expect(await a.cache.get("models", "l2")).toEqual({ loaded: true });
    a.metrics.rateLimitRejected("login");
    a.metrics.rateLimitRejected("global");

    let text = (await request(a.app).get("/metrics").set(bearer())).text;
    expect(sample(text, "cache_hits_total", { category: "models", tier: "l1" })).toBe(2);
    expect(sample(text, "cache_hits_total", { category: "models", tier: "l2" })).toBe(1);
    expect(sample(text, "cache_misses_total", { category: "models" })).toBe(1);
    expect(sample(text, "cache_stale_total", { category: "models" })).toBeUndefined();
    expect(sample(text, "rate_limit_rejections_total", { policy: "login" })).toBe(1);
    expect(sample(text, "rate_limit_rejections_total", { policy: "global" })).toBe(1);

    // An expired value served because its loader failed, within grace, counts as stale.
    await a.cache.set("models", "stale", { loaded: true }, { ttlMs: 1, graceMs: 60_000 });
    await sleep(20);
    const failing = async (): Promise<{ loaded: boolean }> => {
      throw new Error("upstream down");
    };
    expect(await a.cache.getOrSet("models", "stale", failing, { graceMs: 60_000 })).toEqual({ loaded: true });
    await a.cache.getOrSet("models", "l1", load);
    text = (await request(a.app).get("/metrics").set(bearer())).text;
    expect(sample(text, "cache_hits_total", { category: "models", tier: "l1" })).toBe(3);
    expect(sample(text, "cache_stale_total", { category: "models" })).toBe(1);

    await register(a, `registry-${Date.now()}@example.com`);
    const otherText = (await request(b.app).get("/metrics").set(bearer())).text;
    expect(sample(otherText, "auth_logins_total")).toBe(0);
    expect(sample(otherText, "rate_limit_rejections_total", { policy: "login" })).toBeUndefined();
    expect(sample((await request(a.app).get("/metrics").set(bearer())).text, "auth_logins_total")).toBe(1);
  });

  it("leaves out the series of a source that fails instead of failing the scrape", async () => {
    const metrics = createMetrics({
      processMetrics: false,
      cache: {
        stats() {
          throw new Error("a broken source must not break the scrape");
        },
      },
    });
    metrics.rateLimitRejected("login");
    const text = await metrics.render();
    expect(sample(text, "rate_limit_rejections_total", { policy: "login" })).toBe(1);
    expect(sample(text, "cache_hits_total")).toBeUndefined();
    expect(sample(text, "auth_logins_total")).toBe(0);
  });
});

describe("rate-limit rejections", () => {
  it("counts each 429 under its policy", async () => {
    const t = await build({ RATE_LIMIT_LOGIN_LIMIT: "2" });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(t.app)
        .post("/auth/login")
        .send({ email: "nobody@example.com", password: "wrong password" });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 429, 429]);
    const text = (await request(t.app).get("/metrics").set(bearer())).text;
    expect(sample(text, "rate_limit_rejections_total", { policy: "login" })).toBe(2);
    expect(sample(text, "http_request_duration_seconds_count", { route: "/auth/login", status: "429" })).toBe(
      2,
    );
  });
});

describe("GET /metrics/redis", () => {
  it("returns the documented shape with exact key counts on a small keyspace", async () => {
    const t = await build();
    await t.redis!.flushdb();
    const cookie = await register(t, `redis-metrics-${Date.now()}@example.com`);
    expect(cookie).toMatch(/=/);
    await t.redis!.set(`${t.config.keyPrefix}:cache:models:v1:list`, "[]");
    await t.redis!.set(`${t.config.keyPrefix}:rl:{login:1.2.3.4}`, "1");
    await t.redis!.set(`${t.config.keyPrefix}:rl:{global:1.2.3.4}`, "1");
    await t.redis!.set("another-app:key", "1");
    // The mail queue's first read writes its own key (BullMQ's meta); take it into the ground truth.
    await t.services.mailQueue.depths();
    // Ground truth (the requests above also left rate-limit counters): SCAN the whole database. A rate-limit
    // counter of a fast policy lives only milliseconds, so first make every key stay until the scrape.
    const scanAll = async () => {
      const keys: string[] = [];
      let cursor = "0";
      do {
        const [next, batch] = await t.redis!.scan(cursor, "COUNT", 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== "0");
      return keys;
    };
    for (const key of await scanAll()) await t.redis!.persist(key);
    const all = await scanAll();
    const count = (part: string) => all.filter((k) => k.startsWith(`${t.config.keyPrefix}:${part}:`)).length;
    expect(count("sess")).toBe(1);
    expect(count("rl")).toBeGreaterThanOrEqual(2);

    const res = await request(t.app).get("/metrics/redis").set(bearer());
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: "healthy",
      metrics: {
        memory: { used_mb: expect.any(Number), peak_mb: expect.any(Number) },
        // Server-wide: other files' queue workers block on the shared server.
        connections: { connected_clients: expect.any(Number), blocked_clients: expect.any(Number) },
        performance: { ops_per_sec: expect.any(Number), cache_hit_ratio: expect.any(Number) },
        keys: {
          sessions: 1,
          session_index: count("sess-index"),
          cache: 1,
          rate_limit: count("rl"),
          jobs: all.filter((k) => k.startsWith(`{${t.config.keyPrefix}:jobs}:`)).length,
          total: all.length,
          sampled: all.length,
          estimated: false,
        },
      },
      audit: expect.objectContaining({
        maxmemory_policy: expect.any(String),
        persistence: expect.any(String),
      }),
      queues: { mail: { status: "healthy", waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 } },
    });
    expect(res.body.metrics.memory.used_mb).toBeGreaterThan(0);
    expect(res.body.metrics.memory.peak_mb).toBeGreaterThanOrEqual(res.body.metrics.memory.used_mb);
    expect(res.body.metrics.connections.connected_clients).toBeGreaterThanOrEqual(1);
  });

  it("estimates key counts from a bounded sample on a large keyspace, and says so", async () => {
    const t = await build();
    await t.redis!.flushdb();
    const pipeline = t.redis!.pipeline();
    for (let i = 0; i < 1500; i++) pipeline.set(`${t.config.keyPrefix}:sess:s${i}`, "{}");
    for (let i = 0; i < 500; i++) pipeline.set(`${t.config.keyPrefix}:cache:users:u${i}`, "{}");
    for (let i = 0; i < 1000; i++) pipeline.set(`other:${i}`, "1");
    await pipeline.exec();

    const res = await request(t.app).get("/metrics/redis").set(bearer());
    expect(res.status).toBe(200);
    const keys = res.body.metrics.keys;
    expect(keys.estimated).toBe(true);
    expect(keys.total).toBe(3000);
    expect(keys.sampled).toBeLessThan(3000);
    // A sample of about 1000 of 3000 keys: within 25% of the truth.
    expect(keys.sessions).toBeGreaterThan(1500 * 0.75);
    expect(keys.sessions).toBeLessThan(1500 * 1.25);
    expect(keys.cache).toBeGreaterThan(500 * 0.75);
    expect(keys.cache).toBeLessThan(500 * 1.25);
    expect(keys.rate_limit).toBe(0);
    await t.redis!.flushdb();
  });

  it("answers 503 when Redis is down and not_configured without Redis", async () => {
    const own = await privateRedisServer();
    try {
      const t = await build({ REDIS_URL: own.url });
      await own.kill();
      const res = await request(t.app).get("/metrics/redis").set(bearer());
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({
        status: "unhealthy",
        error: expect.any(String),
        reason: expect.any(String),
      });
    } finally {
      await own.stop();
    }
    const none = await testHealthApp({ redis: false, env: { ADMIN_API_KEY: ADMIN_KEY } });
    const res = await request(none.app).get("/metrics/redis").set(bearer());
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "not_configured" });
  });
});
