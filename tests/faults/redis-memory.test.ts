import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Express } from "express";
import { Redis as RedisNode } from "ioredis";
import request from "supertest";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type Env, loadConfig } from "../../server/config/config.js";
import { createRuntime, type Runtime } from "../../server/process/runtime.js";
import { buildTestApp, type TestApp, testEnv } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { capturingLogger } from "../helpers/logger.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { sessionCookie, uniqueEmail } from "../helpers/session.js";

const ADMIN = "admin-key-for-redis-memory-tests";
const PASSWORD = "password-123";

let database: TestDatabase;
let dataDir: string;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), "redis-memory-"));
});

afterEach(async () => {
  // Reverse order: apps and clients before the servers they talk to.
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

afterAll(async () => {
  await database?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function redisServer(extraArgs: string[] = []): Promise<RedisServer> {
  const server = await startRedisServer({ extraArgs });
  cleanups.push(() => server.stop());
  return server;
}

function client(url: string): RedisNode {
  const c = new RedisNode(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  c.on("error", () => undefined);
  cleanups.push(() => c.disconnect());
  return c;
}

/** The real runtime (as `npm start` builds it), its log lines kept. */
async function runtime(env: Env) {
  const { logger, lines } = capturingLogger("info");
  const config = loadConfig(
    testEnv({
      ADMIN_API_KEY: ADMIN,
      METRICS_PUBLIC: "true",
      HEALTH_DETAILS: "public", // these tests read the audit and the reasons
      DATA_DIR: join(dataDir, String(Math.random())),
      ...database.env,
      ...env,
    }),
  );
  const rt: Runtime = await createRuntime(config, logger);
  cleanups.push(() => rt.close());
  const logs = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { rt, config, logs };
}

async function app(env: Env): Promise<TestApp> {
  const t = await buildTestApp({
    db: database.db,
    env: { ADMIN_API_KEY: ADMIN, HEALTH_DETAILS: "public", ...env },
  });
  cleanups.push(() => t.close());
  return t;
}

const adminGet = (a: Express, path: string) => request(a).get(path).set("Authorization", `Bearer ${ADMIN}`);

/** Appends 64 KiB chunks to one key from another client until Redis refuses with OOM (bounded). */
/**
 * Makes Redis full: a 2 MB value (written with no limit), then `maxmemory` set 512 KB below what is used. Filling until the first
 * OOM is not stable: the refused command's query buffer is freed right after, memory drops back under the
 * limit and the next small write succeeds.
 */
async function fillUntilOom(c: RedisNode, key: string): Promise<void> {
  await c.config("SET", "maxmemory", "0");
  // In 64 KB pieces: a 2 MB command would hold a 2 MB query buffer that Redis frees a moment later,
  // dropping memory back under the limit set below.
  const piece = "x".repeat(64 * 1024);
  for (let i = 0; i < 32; i++) await c.append(key, piece);
  const used = Number(/^used_memory:(\d+)/m.exec(await c.info("memory"))?.[1]);
  await c.config("SET", "maxmemory", String(used - 512 * 1024));
  await expect(c.set(`${key}:probe`, "1")).rejects.toThrow(/^OOM/);
}

describe("an evicting Redis (maxmemory 2mb, allkeys-lru, no persistence)", () => {
  it("is a loud start-up warning, shows in health and metrics, and evictions show after the next audit", async () => {
    const server = await redisServer(["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"]);
    const { rt, config, logs } = await runtime({ REDIS_URL: server.url, REDIS_AUDIT_INTERVAL_MS: "200" });

    // Logged while the runtime was built, before any request.
    const policy = logs().filter((l) => l.code === "evicting_policy");
    expect(policy).toHaveLength(1);
    expect(policy[0]?.level).toBe("error");
    expect(policy[0]?.msg).toContain("sessions will be evicted");
    expect(policy[0]?.msg).toContain("noeviction");
    expect(policy[0]?.msg).toContain("CACHE_REDIS_URL");
    const persistence = logs().filter((l) => l.code === "no_persistence");
    expect(persistence).toHaveLength(1);
    expect(persistence[0]?.level).toBe("warn");
    expect(persistence[0]?.msg).toContain("a Redis restart empties it. Sessions are protected");

    const health = await request(rt.app).get("/health/redis");
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: "healthy",
      connected: true,
      audit: {
        maxmemory_policy: "allkeys-lru",
        maxmemory_bytes: 2 * 1024 * 1024,
        policy_safe: false,
        persistence: "none",
        role: "master",
        version: expect.stringMatching(/^\d+\.\d+/),
      },
    });
    expect(health.body.audit.memory_used_ratio).toBeGreaterThan(0);
    expect(health.body.audit.warnings.map((w: { code: string }) => w.code)).toEqual(
      expect.arrayContaining(["evicting_policy", "no_persistence"]),
    );

    const metricsRedis = await adminGet(rt.app, "/metrics/redis");
    expect(metricsRedis.status).toBe(200);
    expect(metricsRedis.body.audit).toMatchObject({ maxmemory_policy: "allkeys-lru", policy_safe: false });

    const prom = await request(rt.app).get("/metrics");
    expect(prom.text).toContain('redis_eviction_policy_safe{redis="sessions"} 0');
    expect(prom.text).toContain('redis_persistence_enabled{redis="sessions"} 0');
    expect(prom.text).toMatch(/redis_memory_used_ratio\{redis="sessions"\} 0\.\d+/);
    expect(prom.text).toContain('redis_evicted_keys{redis="sessions"} 0');
    expect(prom.text).toMatch(
      /redis_audit_info\{redis="sessions",version="[\d.]+",role="master",maxmemory_policy="allkeys-lru"/,
    );

    // A signed-in user, then 3 MB of short-lived keys from elsewhere: Redis evicts to make room.
    const reg = await request(rt.app)
      .post("/auth/register")
      .send({ email: uniqueEmail("evict"), password: PASSWORD });
    expect(reg.status).toBe(201);
    const filler = client(server.url);
    const value = "v".repeat(1024);
    for (let i = 0; i < 3000; i += 100) {
      const pipe = filler.pipeline();
      for (let j = i; j < i + 100; j++) pipe.set(`${config.keyPrefix}:filler:${j}`, value, "EX", 600);
      await pipe.exec();
    }
    await vi.waitFor(
      () => expect(logs().some((l) => l.code === "keys_evicted" && l.level === "error")).toBe(true),
      { timeout: 5000, interval: 100 },
    );
    const after = await request(rt.app).get("/health/redis");
    expect(after.body.audit.evicted_keys).toBeGreaterThan(0);
    const prom2 = await request(rt.app).get("/metrics");
    expect(prom2.text).toMatch(/redis_evicted_keys\{redis="sessions"\} [1-9]\d*/);
  });
});

describe("a full noeviction Redis", () => {
  it("answers login with 503, health says out of memory, and both recover once memory is freed", async () => {
    const server = await redisServer(["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"]);
    const t = await app({ REDIS_URL: server.url, REDIS_AUDIT_INTERVAL_MS: "200" });
    const optional = await app({ REDIS_URL: server.url, HEALTH_REQUIRED: "database" });
    const email = uniqueEmail("oom");
    expect((await request(t.app).post("/auth/register").send({ email, password: PASSWORD })).status).toBe(
      201,
    );

    const filler = client(server.url);
    await fillUntilOom(filler, "filler");

    const login = await request(t.app).post("/auth/login").send({ email, password: PASSWORD });
    expect(login.status).toBe(503);
    expect(login.body.error.code).toBe("service_unavailable");
    expect(login.headers["retry-after"]).toBeDefined();

    const health = await request(t.app).get("/health/redis");
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({
      status: "unhealthy",
      connected: true,
      error: "out of memory",
      reason: "out_of_memory",
    });
    expect(health.body.audit).toMatchObject({
      full: true,
      maxmemory_policy: "noeviction",
      policy_safe: true,
    });
    expect(health.body.audit.warnings.map((w: { code: string }) => w.code)).toContain("memory_full");

    const complete = await request(t.app).get("/health/complete");
    expect(complete.status).toBe(503);
    expect(complete.body.checks.redis).toMatchObject({ status: "unhealthy", reason: "out_of_memory" });
    expect((await request(t.app).get("/health/ready")).status).toBe(503);
    // Redis not required: readiness stays up, /health/complete says degraded with the reason.
    expect((await request(optional.app).get("/health/ready")).status).toBe(200);
    const degraded = await request(optional.app).get("/health/complete");
    expect(degraded.status).toBe(200);
    expect(degraded.body.status).toBe("degraded");
    expect(degraded.body.checks.redis.reason).toBe("out_of_memory");

    await filler.del("filler");
    await vi.waitFor(async () => expect((await request(t.app).get("/health/redis")).status).toBe(200), {
      timeout: 5000,
      interval: 100,
    });
    expect((await request(t.app).get("/health/complete")).status).toBe(200);
    expect((await request(t.app).get("/health/ready")).status).toBe(200);
    const back = await request(t.app).post("/auth/login").send({ email, password: PASSWORD });
    expect(back.status).toBe(200);
    const me = await request(t.app)
      .get("/auth/me")
      .set("Cookie", sessionCookie(back, t.config.session.cookieName)!);
    expect(me.status).toBe(200);
  });
});

describe("health says why Redis cannot be reached", () => {
  it("a wrong password: authentication failed", async () => {
    const server = await redisServer(["--requirepass", "the-right-password"]);
    const t = await app({ REDIS_URL: `redis://default:wrong-password@127.0.0.1:${server.port}` });
    await vi.waitFor(
      async () => {
        const res = await request(t.app).get("/health/redis");
        expect(res.status).toBe(503);
        expect(res.body).toMatchObject({ error: "authentication failed", reason: "authentication_failed" });
      },
      { timeout: 5000, interval: 100 },
    );
    const complete = await request(t.app).get("/health/complete");
    expect(complete.body.checks.redis.reason).toBe("authentication_failed");
    expect(complete.text).not.toContain("wrong-password");
  });

  it("an unresolvable host: host not found", async () => {
    const t = await app({
      REDIS_URL: "redis://no-such-redis-host.invalid:6379",
      REDIS_CONNECT_TIMEOUT_MS: "1000",
    });
    await vi.waitFor(
      async () => {
        const res = await request(t.app).get("/health/redis");
        expect(res.status).toBe(503);
        expect(res.body).toMatchObject({
          connected: false,
          error: "host not found",
          reason: "host_not_found",
        });
      },
      { timeout: 8000, interval: 100 },
    );
    const metricsRedis = await adminGet(t.app, "/metrics/redis");
    expect(metricsRedis.status).toBe(503);
    expect(metricsRedis.body.reason).toBe("host_not_found");
  });
});

describe("a Redis that appears after boot (default audit interval)", () => {
  it("says why it is unreachable, then audits it as soon as it is ready, not a minute later", async () => {
    const server = await redisServer(["--maxmemory", "2mb", "--maxmemory-policy", "volatile-lru"]);
    await server.kill();
    const { rt, logs } = await runtime({ REDIS_URL: server.url });
    expect(logs().some((l) => l.code !== undefined)).toBe(false);
    const down = await request(rt.app).get("/health/redis");
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ error: "connection refused", reason: "connection_refused" });

    await server.start();
    await vi.waitFor(
      () => {
        const policy = logs().find((l) => l.code === "evicting_policy");
        // volatile-* evicts sessions too: each one carries a TTL.
        expect(policy?.msg).toContain("volatile-lru: sessions will be evicted");
      },
      { timeout: 10_000, interval: 100 },
    );
    const up = await request(rt.app).get("/health/redis");
    expect(up.status).toBe(200);
    expect(up.body.audit).toMatchObject({ maxmemory_policy: "volatile-lru", policy_safe: false });
  });
});

describe("persistence seen through INFO", () => {
  it("warns while neither AOF nor any RDB snapshot exists, and clears once a snapshot is written", async () => {
    const dir = mkdtempSync(join(dataDir, "rdb-"));
    const server = await redisServer(["--dir", dir]);
    const { rt, logs } = await runtime({ REDIS_URL: server.url, REDIS_AUDIT_INTERVAL_MS: "200" });
    expect(logs().filter((l) => l.code === "no_persistence")).toHaveLength(1);
    expect((await request(rt.app).get("/health/redis")).body.audit.persistence).toBe("none");

    await client(server.url).bgsave();
    await vi.waitFor(
      async () => expect((await request(rt.app).get("/health/redis")).body.audit.persistence).toBe("rdb"),
      { timeout: 5000, interval: 100 },
    );
    expect(logs().some((l) => l.code === "no_persistence" && l.msg === "Redis audit: resolved")).toBe(true);
    expect((await request(rt.app).get("/metrics")).text).toContain(
      'redis_persistence_enabled{redis="sessions"} 1',
    );
  });
});

describe("CACHE_REDIS_URL", () => {
  it("keeps sessions in the main Redis and the cache in its own; health audits both; AOF means no warning", async () => {
    const aofDir = mkdtempSync(join(dataDir, "aof-"));
    const main = await redisServer([
      "--maxmemory-policy",
      "noeviction",
      "--appendonly",
      "yes",
      "--dir",
      aofDir,
    ]);
    const cacheServer = await redisServer(["--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru"]);
    const { rt, config, logs } = await runtime({ REDIS_URL: main.url, CACHE_REDIS_URL: cacheServer.url });
    expect(rt.services.cacheRedis).toBeDefined();

    // Neither the sessions' Redis (noeviction, AOF) nor the evicting cache Redis deserves a warning.
    expect(logs().filter((l) => l.code !== undefined)).toEqual([]);

    const email = uniqueEmail("split");
    const reg = await request(rt.app).post("/auth/register").send({ email, password: PASSWORD });
    expect(reg.status).toBe(201);
    const cookie = sessionCookie(reg, config.session.cookieName)!;
    expect((await request(rt.app).get("/auth/me").set("Cookie", cookie)).status).toBe(200);

    const keys = async (url: string, kind: string) =>
      (await client(url).keys(`${config.keyPrefix}:${kind}:*`)).length;
    await vi.waitFor(async () => expect(await keys(cacheServer.url, "cache")).toBeGreaterThan(0), {
      timeout: 3000,
      interval: 100,
    });
    expect(await keys(main.url, "sess")).toBeGreaterThan(0);
    expect(await keys(main.url, "cache")).toBe(0);
    expect(await keys(cacheServer.url, "sess")).toBe(0);

    const health = await request(rt.app).get("/health/redis");
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: "healthy",
      audit: { maxmemory_policy: "noeviction", persistence: "aof", policy_safe: true, warnings: [] },
      cache: {
        status: "healthy",
        audit: { maxmemory_policy: "allkeys-lru", policy_safe: true, warnings: [] },
      },
    });
    const complete = await request(rt.app).get("/health/complete");
    expect(complete.body.checks.redis_cache.status).toBe("healthy");
    const metricsRedis = await adminGet(rt.app, "/metrics/redis");
    expect(metricsRedis.body.metrics.keys.cache).toBe(0);
    expect(metricsRedis.body.cache).toMatchObject({
      status: "healthy",
      audit: { maxmemory_policy: "allkeys-lru" },
    });
    expect(metricsRedis.body.cache.keys.cache).toBeGreaterThan(0);
    const prom = await request(rt.app).get("/metrics");
    expect(prom.text).toContain('redis_eviction_policy_safe{redis="cache"} 1');
    expect(prom.text).toContain('redis_persistence_enabled{redis="sessions"} 1');

    // The cache's Redis gone: sessions still work, health says degraded and why.
    await cacheServer.kill();
    await vi.waitFor(
      async () => {
        const res = await request(rt.app).get("/health/redis");
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ status: "degraded", cache: { status: "unhealthy" } });
      },
      { timeout: 5000, interval: 100 },
    );
    expect((await request(rt.app).get("/auth/me").set("Cookie", cookie)).status).toBe(200);
  });
});
