import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../server/config/config.js";
import { createPostgresDatabase, type Database } from "../../../server/infra/db/database.js";
import type { TestDatabase } from "../../helpers/database.js";
import { type FakeOpenAI, startFakeOpenAI } from "../../helpers/fake-openai.js";
import {
  privateRedisServer,
  type SharedRedis,
  sharedRedis,
  testDatabase,
  testHealthApp,
} from "../../helpers/fixtures.js";
import { type HealthTestApp, startBlackHole } from "../../helpers/health-app.js";
import { silentLogger } from "../../helpers/logger.js";
import { freePort } from "../../helpers/ports.js";

const OPENAI_KEY = "sk-test-health-0123456789";

let redisServer: SharedRedis;
let database: TestDatabase;
let openai: FakeOpenAI;

beforeAll(async () => {
  [redisServer, database, openai] = await Promise.all([
    sharedRedis(),
    testDatabase(),
    startFakeOpenAI({ apiKey: OPENAI_KEY }),
  ]);
});

afterAll(async () => {
  await openai?.close();
});

function build(env: Record<string, string> = {}, db: Database = database.db) {
  return testHealthApp({ db, env: { REDIS_URL: redisServer.url, ...env } });
}

const withOpenAI = (env: Record<string, string> = {}) => ({
  OPENAI_API_KEY: OPENAI_KEY,
  OPENAI_BASE_URL: openai.baseUrl,
  ...env,
});

async function sessionKeys(t: HealthTestApp): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await t.redis!.scan(cursor, "MATCH", `${t.config.keyPrefix}:sess:*`, "COUNT", 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== "0");
  return found;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

describe("all dependencies healthy", () => {
  it("answers every probe with the documented bodies, without a cookie or a session", async () => {
    openai.setMode("ok");
    const t = await build(withOpenAI());

    const live = await request(t.app).get("/health/live");
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ status: "ok" });

    const ready = await request(t.app).get("/health/ready");
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: "ready", checks: { database: "healthy", redis: "healthy" } });

    const redis = await request(t.app).get("/health/redis");
    expect(redis.status).toBe(200);
    expect(redis.body).toEqual({
      status: "healthy",
      connected: true,
      latency: expect.stringMatching(/^\d+\.\d{2}ms$/),
      latency_ms: expect.any(Number),
      used_memory: expect.stringMatching(/^\d+\.\d{2}MB$/),
      used_memory_bytes: expect.any(Number),
      audit: expect.objectContaining({ maxmemory_policy: expect.any(String), warnings: expect.any(Array) }),
    });
    expect(redis.body.used_memory_bytes).toBeGreaterThan(0);
    expect(redis.body.latency).toBe(`${redis.body.latency_ms.toFixed(2)}ms`);

    const complete = await request(t.app).get("/health/complete");
    expect(complete.status).toBe(200);
    expect(complete.body).toEqual({
      status: "healthy",
      checks: {
        database: { status: "healthy", latency_ms: expect.any(Number) },
        redis: { status: "healthy", latency_ms: expect.any(Number) },
        openai: { status: "healthy", latency_ms: expect.any(Number) },
        queue_mail: { status: "healthy", latency_ms: expect.any(Number) },
      },
      sessions: { fallback: "off", serving: "redis" },
      timestamp: expect.any(String),
    });
    expect(new Date(complete.body.timestamp).toISOString()).toBe(complete.body.timestamp);
    expect(openai.calls.at(-1)?.authorization).toBe(`Bearer ${OPENAI_KEY}`);

    for (const res of [live, ready, redis, complete]) expect(res.headers["set-cookie"]).toBeUndefined();
    expect(await sessionKeys(t)).toEqual([]);
  });

  it("speaks the IETF health-check format when asked for application/health+json", async () => {
    const t = await build();
    const res = await request(t.app).get("/health/complete").set("Accept", "application/health+json");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/health\+json/);
    const body = JSON.parse(res.text);
    expect(body.status).toBe("pass");
    expect(body.checks["database:responseTime"]).toEqual([
      {
        componentType: "datastore",
        observedValue: expect.any(Number),
        observedUnit: "ms",
        status: "pass",
        time: expect.any(String),
      },
    ]);
    expect(body.checks["redis:responseTime"][0].status).toBe("pass");
    expect(body.checks["openai:responseTime"]).toBeUndefined();
    expect(body.notes).toEqual(["openai: not configured"]);
  });

  it("reports OpenAI as not configured without a key, and Redis as not configured without Redis", async () => {
    const t = await testHealthApp({ redis: false });
    const redis = await request(t.app).get("/health/redis");
    expect(redis.status).toBe(200);
    expect(redis.body).toEqual({ status: "not_configured" });
    const complete = await request(t.app).get("/health/complete");
    expect(complete.status).toBe(200);
    expect(complete.body.status).toBe("healthy");
    expect(complete.body.checks.redis).toEqual({ status: "not_configured", latency_ms: 0 });
    expect(complete.body.checks.openai).toEqual({ status: "not_configured", latency_ms: 0 });
    const ready = await request(t.app).get("/health/ready");
    expect(ready.body).toEqual({ status: "ready", checks: { database: "healthy" } });
  });
});

describe("OpenAI failing", () => {
  for (const mode of ["unauthorized", "error", "hang"] as const) {
    it(`${mode}: openai unhealthy, overall degraded 200 by default, 503 when required`, async () => {
      openai.setMode(mode);
      const env = withOpenAI({ HEALTH_CHECK_TIMEOUT_MS: "400" });
      const optional = await build(env);
      const res = await request(optional.app).get("/health/complete");
      expect(res.status).toBe(200);
      expect(res.body.status).toBe("degraded");
      expect(res.body.checks.openai).toEqual({
        status: "unhealthy",
        latency_ms: expect.any(Number),
        error: {
          unauthorized: "API key rejected (HTTP 401)",
          error: "HTTP 500",
          hang: "timed out after 400 ms",
        }[mode],
        reason: { unauthorized: "api_key_rejected", error: "http_error", hang: "timed_out" }[mode],
      });
      expect(JSON.stringify(res.body)).not.toContain(OPENAI_KEY);
      expect((await request(optional.app).get("/health/ready")).status).toBe(200);

      const required = await build({ ...env, HEALTH_REQUIRED: "database,redis,openai" });
      const strict = await request(required.app).get("/health/complete");
      expect(strict.status).toBe(503);
      expect(strict.body.status).toBe("unhealthy");
      const ready = await request(required.app).get("/health/ready");
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({
        status: "not_ready",
        reason: "dependency_unhealthy",
        checks: { database: "healthy", redis: "healthy", openai: "unhealthy" },
      });
      const ietf = await request(required.app)
        .get("/health/complete")
        .set("Accept", "application/health+json");
      expect(ietf.status).toBe(503);
      expect(JSON.parse(ietf.text).status).toBe("fail");
      openai.setMode("ok");
    });
  }

  it("50 concurrent probes make one OpenAI call, and a probe inside the cache window makes none", async () => {
    openai.setMode("ok");
    const t = await build(withOpenAI({ HEALTH_OPENAI_CACHE_SECONDS: "60" }));
    const before = openai.callCount("/v1/models");
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => request(t.app).get("/health/complete")),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(responses.every((r) => r.body.checks.openai.status === "healthy")).toBe(true);
    expect(openai.callCount("/v1/models") - before).toBe(1);

    const again = await request(t.app).get("/health/complete");
    expect(again.body.checks.openai.status).toBe("healthy");
    expect(openai.callCount("/v1/models") - before).toBe(1);
  });
});

describe("Redis down", () => {
  it("fails /health/redis and /health/complete within the bound while /health/live stays up", async () => {
    const own = await privateRedisServer();
    try {
      const t = await build({ REDIS_URL: own.url, HEALTH_CHECK_TIMEOUT_MS: "1000" });
      expect((await request(t.app).get("/health/redis")).status).toBe(200);
      await own.kill();

      const redis = await timed(() => request(t.app).get("/health/redis"));
      expect(redis.value.status).toBe(503);
      expect(redis.value.body).toMatchObject({
        status: "unhealthy",
        connected: false,
        error: expect.any(String),
        reason: expect.stringMatching(/^(connection_refused|connection_lost|not_connected)$/),
      });

      const complete = await timed(() => request(t.app).get("/health/complete"));
      expect(complete.value.status).toBe(503);
      expect(complete.value.body.status).toBe("unhealthy");
      expect(complete.value.body.checks.redis).toMatchObject({
        status: "unhealthy",
        error: expect.any(String),
      });
      expect(complete.value.body.checks.database.status).toBe("healthy");
      // The bound (1 s) plus a generous margin for a shared machine.
      expect(complete.ms).toBeLessThan(1000 + 1500);
      expect(redis.ms).toBeLessThan(1000 + 1500);

      expect((await request(t.app).get("/health/ready")).status).toBe(503);
      const live = await request(t.app).get("/health/live");
      expect(live.status).toBe(200);
      expect(live.body).toEqual({ status: "ok" });
    } finally {
      await own.stop();
    }
  });
});

describe("database unreachable", () => {
  it("answers 503 naming the database", async () => {
    const closedPort = await freePort();
    const url = `postgres://postgres@127.0.0.1:${closedPort}/test`;
    const db = createPostgresDatabase({ url, poolMax: 2, timeoutMs: 5000 }, silentLogger());
    try {
      const t = await build({}, db);
      const res = await request(t.app).get("/health/complete");
      expect(res.status).toBe(503);
      expect(res.body.status).toBe("unhealthy");
      expect(res.body.checks.database).toEqual({
        status: "unhealthy",
        latency_ms: expect.any(Number),
        error: "connection refused",
        reason: "connection_refused",
      });
      expect(res.body.checks.redis.status).toBe("healthy");
      expect(res.text).not.toContain(String(closedPort));
      const ready = await request(t.app).get("/health/ready");
      expect(ready.status).toBe(503);
      expect(ready.body.checks.database).toBe("unhealthy");
    } finally {
      await db.close();
    }
  });
});

describe("black-holed dependencies", () => {
  it("cannot stretch /health/complete beyond the bound, and stuck checks do not pile up", async () => {
    const timeoutMs = 1000;
    const hole = await startBlackHole();
    const own = await privateRedisServer();
    // Driver timeouts far above the probe bound: only the probe's own timer can keep it short.
    const db = createPostgresDatabase(
      { url: `postgres://postgres@127.0.0.1:${hole.port}/test`, poolMax: 2, timeoutMs: 20_000 },
      silentLogger(),
    );
    openai.setMode("hang");
    const t = await build(
      withOpenAI({
        REDIS_URL: own.url,
        REDIS_COMMAND_TIMEOUT_MS: "20000",
        HEALTH_CHECK_TIMEOUT_MS: String(timeoutMs),
        HEALTH_OPENAI_CACHE_SECONDS: "0",
      }),
      db,
    );
    // A stopped redis-server keeps its connections open and answers nothing.
    own.freeze();
    try {
      const times: number[] = [];
      for (let i = 0; i < 2; i++) {
        const { value, ms } = await timed(() => request(t.app).get("/health/complete"));
        times.push(ms);
        expect(value.status).toBe(503);
        expect(value.body.checks.database).toMatchObject({
          status: "unhealthy",
          error: "timed out after 1000 ms",
        });
        expect(value.body.checks.redis).toMatchObject({
          status: "unhealthy",
          error: "timed out after 1000 ms",
        });
        expect(value.body.checks.openai).toMatchObject({ status: "unhealthy" });
      }
      const burst = await Promise.all(
        Array.from({ length: 20 }, () => timed(() => request(t.app).get("/health/complete"))),
      );
      times.push(...burst.map((b) => b.ms));
      for (const b of burst) expect(b.value.status).toBe(503);
      const redisProbe = await timed(() => request(t.app).get("/health/redis"));
      expect(redisProbe.value.status).toBe(503);
      times.push(redisProbe.ms);

      const worst = Math.max(...times);
      console.log(
        `black-holed database+redis+openai, bound ${timeoutMs} ms: worst /health/complete ${worst.toFixed(0)} ms over ${times.length} probes`,
      );
      expect(worst).toBeLessThan(timeoutMs + 1500);
      // One pending connection attempt is shared by every probe instead of one per probe.
      expect(hole.connections()).toBe(1);
    } finally {
      own.thaw();
      openai.setMode("ok");
      await t.close();
      await hole.close();
      await db.close().catch(() => undefined);
      await own.stop();
    }
  });
});

describe("shutdown", () => {
  it("turns readiness to 503 at once while other endpoints keep answering", async () => {
    const t = await build();
    expect((await request(t.app).get("/health/ready")).status).toBe(200);
    t.lifecycle.beginShutdown();
    const ready = await request(t.app).get("/health/ready");
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: "not_ready", reason: "shutting_down", checks: {} });
    const live = await request(t.app).get("/health/live");
    expect(live.status).toBe(200);
    expect((await request(t.app).get("/health/complete")).status).toBe(200);
  });
});

describe("configuration", () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig({ NODE_ENV: "test", ...env });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.join("\n");
      throw err;
    }
    return "";
  };

  it("rejects malformed or impossible health settings, naming the variable", () => {
    expect(problems({ HEALTH_CHECK_TIMEOUT_MS: "2s" })).toMatch(/^HEALTH_CHECK_TIMEOUT_MS: /);
    expect(problems({ HEALTH_REQUIRED: "database,mysql" })).toMatch(/^HEALTH_REQUIRED: /);
    expect(problems({ HEALTH_REQUIRED: "openai" })).toMatch(
      /HEALTH_REQUIRED: names openai but OPENAI_API_KEY/,
    );
    expect(problems({ HEALTH_REQUIRED: "redis" })).toMatch(/HEALTH_REQUIRED: names redis but no Redis/);
    expect(problems({ METRICS_PUBLIC: "yes" })).toMatch(/^METRICS_PUBLIC: /);
    expect(problems({ SHUTDOWN_DELAY_MS: "-1" })).toMatch(/^SHUTDOWN_DELAY_MS: /);
  });

  it("defaults: required database and redis only when Redis is configured; draining delay in production", () => {
    expect(loadConfig({ NODE_ENV: "test" }).health).toEqual({
      checkTimeoutMs: 2000,
      required: ["database"],
      openaiCacheSeconds: 60,
    });
    expect(loadConfig({ NODE_ENV: "test", REDIS_URL: "redis://127.0.0.1:1" }).health.required).toEqual([
      "database",
      "redis",
    ]);
    expect(loadConfig({ NODE_ENV: "test", HEALTH_REQUIRED: "none" }).health.required).toEqual([]);
    expect(loadConfig({ NODE_ENV: "test" }).shutdownDelayMs).toBe(0);
    const prod = loadConfig({
      NODE_ENV: "production",
      SESSION_SECRET: "x".repeat(40),
      MFA_ENCRYPTION_KEY: "x".repeat(40),
      PUBLIC_URL: "https://auth.example.com",
      TRUST_PROXY: "false",
    });
    expect(prod.shutdownDelayMs).toBe(5000);
    expect(prod.metricsPublic).toBe(false);
  });
});
