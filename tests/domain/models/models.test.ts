import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis as IORedis } from "ioredis";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BoundedMemoryStore } from "../../../server/domain/session/memory-store.js";
import { type TestApp, uniquePrefix } from "../../helpers/app.js";
import { type FakeOpenAI, startFakeOpenAI } from "../../helpers/fake-openai.js";
import { privateRedisServer, registerUser, testApp } from "../../helpers/fixtures.js";
import type { RedisServer } from "../../helpers/redis-server.js";
import { commandCalls, commandDiff } from "../../helpers/redis-stats.js";
import { sleep } from "../../helpers/sleep.js";

const API_KEY = "sk-test-0123456789";
let redisServer: RedisServer;
let openai: FakeOpenAI;

beforeAll(async () => {
  // Its own server: a test counts the commands Redis runs.
  redisServer = await privateRedisServer();
  openai = await startFakeOpenAI({ apiKey: API_KEY });
});

afterAll(async () => {
  await openai?.close();
});

function app(env: Record<string, string> = {}): Promise<TestApp> {
  return testApp({
    env: { REDIS_URL: redisServer.url, OPENAI_API_KEY: API_KEY, OPENAI_BASE_URL: openai.baseUrl, ...env },
  });
}

const login = async (t: TestApp): Promise<string> => (await registerUser(t)).cookie;

describe("GET /api/models", () => {
  it("requires a login", async () => {
    const t = await app();
    const res = await request(t.app).get("/api/models");
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("unauthenticated");
  });

  it("answers 503 not_configured without OPENAI_API_KEY", async () => {
    const t = await app({ OPENAI_API_KEY: "" });
    const cookie = await login(t);
    const res = await request(t.app).get("/api/models").set("Cookie", cookie);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("not_configured");
    // Permanent until configured: no Retry-After inviting clients to poll.
    expect(res.headers["retry-after"]).toBeUndefined();
  });

  it("asks OpenAI once within the TTL: MISS, then HIT", async () => {
    const t = await app();
    const cookie = await login(t);
    const calls = openai.callCount("/v1/models");
    const first = await request(t.app).get("/api/models").set("Cookie", cookie);
    expect(first.status).toBe(200);
    expect(first.headers["x-cache"]).toBe("MISS");
    expect(first.body.models).toEqual([
      { id: "gpt-4o", ownedBy: "openai", created: 1_700_000_000 },
      { id: "gpt-4o-mini", ownedBy: "openai", created: 1_700_000_000 },
    ]);
    // Watch every command Redis receives during the cached answer: the cache sends none of them.
    const monitor = await new IORedis({ port: redisServer.port, host: "127.0.0.1" }).monitor();
    const seen: string[][] = [];
    monitor.on("monitor", (_time: string, args: string[]) => seen.push(args));
    await sleep(50);
    const second = await request(t.app).get("/api/models").set("Cookie", cookie);
    await sleep(50);
    monitor.disconnect();
    expect(second.headers["x-cache"]).toBe("HIT");
    expect(seen.length).toBeGreaterThan(0); // the session's own reads
    expect(seen.filter((args) => args.some((a) => a.includes(":cache:")))).toEqual([]);
    expect(second.body).toEqual(first.body);
    expect(openai.callCount("/v1/models")).toBe(calls + 1);
    expect(openai.calls.at(-1)?.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it("answers 502 upstream_error when OpenAI fails and nothing is cached, STALE when something is", async () => {
    const t = await app({ CACHE_MODELS_TTL_SECONDS: "1", CACHE_GRACE_SECONDS: "60" });
    const cookie = await login(t);
    openai.setMode("error");
    try {
      const failed = await request(t.app).get("/api/models").set("Cookie", cookie);
      expect(failed.status).toBe(502);
      expect(failed.body.error.code).toBe("upstream_error");
      expect(JSON.stringify(failed.body)).not.toContain(API_KEY);

      openai.setMode("ok");
      expect((await request(t.app).get("/api/models").set("Cookie", cookie)).headers["x-cache"]).toBe("MISS");
      openai.setMode("unauthorized");
      await sleep(1100); // past the 1 s TTL, inside the grace
      const stale = await request(t.app).get("/api/models").set("Cookie", cookie);
      expect(stale.status).toBe(200);
      expect(stale.headers["x-cache"]).toBe("STALE");
      expect(stale.body.models).toHaveLength(2);
    } finally {
      openai.setMode("ok");
    }
  });

  it("two instances sharing Redis and a KEY_PREFIX ask OpenAI once for 100 concurrent requests", async () => {
    const prefix = uniquePrefix();
    // Generous Redis budgets: on a busy test machine a slow reply must not look like an outage (a second load).
    const relaxed = { KEY_PREFIX: prefix, REDIS_COMMAND_TIMEOUT_MS: "5000", CACHE_L2_TIMEOUT_MS: "5000" };
    const a = await app(relaxed);
    const b = await app(relaxed);
    const cookie = await login(a); // the session lives in the shared Redis: valid on both
    const servers = [a, b].map((t) => t.app.listen(0, "127.0.0.1"));
    await Promise.all(servers.map((s) => new Promise((r) => s.once("listening", r))));
    const urls = servers.map(
      (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}/api/models`,
    );
    const admin = a.redis!;
    openai.setDelayMs(300);
    try {
      const calls = openai.callCount("/v1/models");
      const before = await commandCalls(admin);
      const responses = await Promise.all(
        Array.from({ length: 100 }, (_, i) => fetch(urls[i % 2]!, { headers: { cookie } })),
      );
      const used = commandDiff(before, await commandCalls(admin));
      const statuses = responses.map((r) => r.status);
      expect(new Set(statuses)).toEqual(new Set([200]));
      const xCache: Record<string, number> = {};
      for (const r of responses) {
        const status = r.headers.get("x-cache") ?? "none";
        xCache[status] = (xCache[status] ?? 0) + 1;
      }
      expect(openai.callCount("/v1/models")).toBe(calls + 1);
      console.info(
        `[measure] 100 concurrent /api/models over 2 apps: OpenAI calls ${openai.callCount("/v1/models") - calls}; X-Cache ${JSON.stringify(xCache)}; Redis ${JSON.stringify(used)}`,
      );
    } finally {
      openai.setDelayMs(0);
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
  });
});

describe("GET /api/models while Redis is down", () => {
  it("answers from L1 or OpenAI without hanging, and uses Redis again once it is back", async () => {
    const killable = await privateRedisServer();
    // Sessions stay in memory here so the test isolates the cache from the session store's own outage handling.
    const t = await testApp({
      env: {
        REDIS_URL: killable.url,
        OPENAI_API_KEY: API_KEY,
        OPENAI_BASE_URL: openai.baseUrl,
        CACHE_BREAKER_THRESHOLD: "2",
        CACHE_BREAKER_COOLDOWN_MS: "200",
      },
      sessionStore: new BoundedMemoryStore({ max: 100, ttlSeconds: 600 }),
    });
    try {
      const cookie = await login(t);
      expect((await request(t.app).get("/api/models").set("Cookie", cookie)).headers["x-cache"]).toBe("MISS");
      await killable.kill();

      const fromL1 = await request(t.app).get("/api/models").set("Cookie", cookie).timeout(5000);
      expect(fromL1.status).toBe(200);
      expect(fromL1.headers["x-cache"]).toBe("HIT");

      expect((await t.cache.invalidate("models")).redis).toBe("unavailable"); // drops this L1 only
      const calls = openai.callCount("/v1/models");
      for (let i = 0; i < 3; i++) {
        const res = await request(t.app).get("/api/models").set("Cookie", cookie).timeout(5000);
        expect(res.status).toBe(200);
      }
      expect(openai.callCount("/v1/models")).toBe(calls + 1); // loaded once, then L1
      expect(t.cache.stats().l2.breaker).not.toBe("closed");

      await killable.start();
      await expect
        .poll(
          async () => {
            await t.cache.get("models", "probe");
            return t.cache.stats().l2.breaker;
          },
          { timeout: 20_000, interval: 100 },
        )
        .toBe("closed");
      expect((await t.cache.invalidate("models")).redis).toBe("ok");
      const again = await request(t.app).get("/api/models").set("Cookie", cookie);
      expect(again.headers["x-cache"]).toBe("MISS");
      expect((await t.cache.keyCounts())?.byCategory.models).toBe(1);
    } finally {
      await killable.stop();
    }
  });
});
