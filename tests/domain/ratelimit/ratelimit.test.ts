import request from "supertest";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ConfigError, type Env, loadConfig } from "../../../server/config/config.js";
import { addressKey } from "../../../server/domain/ratelimit/client-key.js";
import { MemoryRateLimitStore } from "../../../server/domain/ratelimit/memory-store.js";
import { createRateLimiter, RateLimitConfigError } from "../../../server/domain/ratelimit/rate-limit.js";
import { type TestApp, testEnv, uniquePrefix } from "../../helpers/app.js";
import { privateRedisServer, testApp } from "../../helpers/fixtures.js";
import { listen } from "../../helpers/listen.js";
import { capturingLogger, silentLogger } from "../../helpers/logger.js";
import type { RedisServer } from "../../helpers/redis-server.js";
import { commandCalls, commandDiff } from "../../helpers/redis-stats.js";
import { sleep } from "../../helpers/sleep.js";

let redisServer: RedisServer;
const opened: TestApp[] = [];

beforeAll(async () => {
  // Its own server: tests count the commands Redis runs.
  redisServer = await privateRedisServer();
});

afterEach(async () => {
  for (const t of opened.splice(0)) await t.close();
});

/** The cache's invalidation subscriber connects in the background: a test counting commands waits for it. */
function subscribed(t: TestApp): Promise<void> {
  return vi.waitFor(() => expect(t.cache.stats().l2.subscriber).toBe("ready"), { timeout: 10_000 });
}

async function app(env: Env, logger = silentLogger()): Promise<TestApp> {
  const t = await testApp({ env: { REDIS_URL: redisServer.url, ...env }, logger });
  opened.push(t);
  return t;
}

describe("limits shared through Redis", () => {
  it("200 concurrent requests split over two instances against a limit of 50: exactly 50 pass", async () => {
    // GCRA returns one unit every window/limit; with 50 per hour none comes back while the burst runs
    // (50 per minute would return one every 1.2 s, which a slow machine can reach).
    const env = {
      KEY_PREFIX: uniquePrefix(),
      RATE_LIMIT_GLOBAL_LIMIT: "50",
      RATE_LIMIT_GLOBAL_WINDOW_SECONDS: "3600",
    };
    const servers = await Promise.all([listen((await app(env)).app), listen((await app(env)).app)]);
    try {
      const statuses = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          fetch(`${servers[i % 2]?.url}/auth/me`).then(async (res) => {
            await res.arrayBuffer();
            return res.status;
          }),
        ),
      );
      const count = (status: number) => statuses.filter((s) => s === status).length;
      expect({ passed: count(401), limited: count(429) }).toEqual({ passed: 50, limited: 150 });
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it("reports the quota in RateLimit headers and rejects with Retry-After and a JSON body", async () => {
    const t = await app({ RATE_LIMIT_GLOBAL_LIMIT: "3", RATE_LIMIT_GLOBAL_WINDOW_SECONDS: "60" });
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(t.app).get("/auth/me");
      expect(res.status).toBe(401);
      expect(res.headers["ratelimit-policy"]).toBe('"global";q=3;w=60');
      expect(res.headers["retry-after"]).toBeUndefined();
      seen.push(String(res.headers.ratelimit));
    }
    // One unit returns every 20 s; `t` is when the whole quota is back.
    expect(seen).toEqual(['"global";r=2;t=20', '"global";r=1;t=40', '"global";r=0;t=60']);

    const limited = await request(t.app).get("/auth/me");
    expect(limited.status).toBe(429);
    expect(limited.headers["retry-after"]).toBe("20");
    expect(limited.headers.ratelimit).toBe('"global";r=0;t=60');
    expect(limited.body).toEqual({
      error: { code: "rate_limited", message: "Too many requests; try again in 20 seconds", retryAfter: 20 },
    });
  });

  it("lets a client in again once Retry-After has passed", async () => {
    const t = await app({ RATE_LIMIT_GLOBAL_LIMIT: "2", RATE_LIMIT_GLOBAL_WINDOW_SECONDS: "2" });
    await request(t.app).get("/auth/me").expect(401);
    await request(t.app).get("/auth/me").expect(401);
    const limited = await request(t.app).get("/auth/me").expect(429);
    const wait = Number(limited.headers["retry-after"]);
    expect(wait).toBe(1);
    await sleep(wait * 1000);
    await request(t.app).get("/auth/me").expect(401);
  });

  it("slides: a burst across a fixed-window edge gets no second quota, capacity returns unit by unit", async () => {
    const t = await app({ RATE_LIMIT_GLOBAL_LIMIT: "4", RATE_LIMIT_GLOBAL_WINDOW_SECONDS: "2" });
    const burst = async (n: number) => {
      const statuses = await Promise.all(Array.from({ length: n }, () => request(t.app).get("/auth/me")));
      return statuses.filter((r) => r.status === 401).length;
    };
    // Just before a 2 s boundary of the clock, then just after it: a fixed window would pass 4 + 4.
    while (Date.now() % 2000 < 1800 || Date.now() % 2000 > 1850) await sleep(10);
    const before = await burst(4);
    while (Date.now() % 2000 > 1000) await sleep(10);
    const after = await burst(4);
    expect(before).toBe(4);
    expect(after).toBeLessThanOrEqual(1); // at most one unit (500 ms) came back in between

    // 600 ms later one more unit is back, not the whole quota.
    await sleep(600);
    expect(await burst(3)).toBe(1);
  });
});

describe("who is counted", () => {
  it("keys by the address the trusted proxy saw, whatever the client puts in X-Forwarded-For", async () => {
    const t = await app({ TRUST_PROXY: "1", RATE_LIMIT_GLOBAL_LIMIT: "2" });
    const from = (xff: string) => request(t.app).get("/auth/me").set("X-Forwarded-For", xff);
    await from("203.0.113.7").expect(401);
    await from("6.6.6.6, 203.0.113.7").expect(401); // the client's own entry is not trusted
    await from("7.7.7.7, 203.0.113.7").expect(429);
    await from("::ffff:203.0.113.7").expect(429); // IPv4-mapped is the same client
    // Another client behind the same proxy has its own quota.
    await from("198.51.100.9").expect(401);
    await from("198.51.100.9").expect(401);
    await from("198.51.100.9").expect(429);
  });

  it("counts an IPv6 /64 as one client", async () => {
    const t = await app({ TRUST_PROXY: "1", RATE_LIMIT_GLOBAL_LIMIT: "2" });
    const from = (xff: string) => request(t.app).get("/auth/me").set("X-Forwarded-For", xff);
    await from("2001:db8:1:2::1").expect(401);
    await from("2001:db8:1:2:aaaa:bbbb:cccc:dddd").expect(401);
    await from("2001:db8:1:2:ffff::9").expect(429);
    await from("2001:db8:1:3::1").expect(401);
  });

  it("normalises addresses into keys", () => {
    expect(addressKey("203.0.113.7", 64)).toBe("203.0.113.7");
    expect(addressKey("::ffff:203.0.113.7", 64)).toBe("203.0.113.7");
    expect(addressKey("::FFFF:cb00:7107", 64)).toBe("203.0.113.7");
    expect(addressKey("::ffff:0:203.0.113.7", 128)).toBe("0:0:0:0:ffff:0:cb00:7107/128"); // translated, not mapped
    expect(addressKey("2001:DB8:1:2::1", 64)).toBe("2001:db8:1:2/64");
    expect(addressKey("2001:db8:1:2:3:4:5:6", 48)).toBe("2001:db8:1/48");
    expect(addressKey("2001:db8:1:2:3:4:5:6", 56)).toBe("2001:db8:1:0/56");
    expect(addressKey("2001:db8:1:2ff:3:4:5:6", 56)).toBe("2001:db8:1:200/56");
    expect(addressKey("fe80::1%eth0", 64)).toBe("fe80:0:0:0/64");
    expect(addressKey("::1", 128)).toBe("0:0:0:0:0:0:0:1/128");
    expect(addressKey("64:ff9b::192.0.2.33", 128)).toBe("64:ff9b:0:0:0:0:c000:221/128");
    expect(addressKey(undefined, 64)).toBe("unknown");
  });

  it("leaves /health alone", async () => {
    const t = await app({ RATE_LIMIT_GLOBAL_LIMIT: "1" });
    for (let i = 0; i < 3; i++) {
      const res = await request(t.app).get("/health/live").expect(200);
      expect(res.headers.ratelimit).toBeUndefined();
    }
    await request(t.app).get("/auth/me").expect(401);
    await request(t.app).get("/auth/me").expect(429);
  });

  it("limits authenticated /api requests per user and lists both policies", async () => {
    const t = await app({ RATE_LIMIT_API_LIMIT: "2" });
    const reg = await request(t.app)
      .post("/auth/register")
      .send({ email: `api-${Date.now()}@example.com`, password: "correct horse" })
      .expect(201);
    const cookie = String(reg.headers["set-cookie"]?.[0]).split(";")[0]!;
    const first = await request(t.app).get("/api/anything").set("Cookie", cookie);
    expect(first.status).toBe(404);
    expect(first.headers["ratelimit-policy"]).toBe('"global";q=300;w=60, "api";q=2;w=60');
    expect(first.headers.ratelimit).toMatch(/^"global";r=\d+;t=\d+, "api";r=1;t=30$/);
    await request(t.app).get("/api/anything").set("Cookie", cookie).expect(404);
    const limited = await request(t.app).get("/api/anything").set("Cookie", cookie).expect(429);
    expect(limited.body.error).toMatchObject({ code: "rate_limited", retryAfter: 30 });
    // Anonymous /api requests are not counted against any user.
    const anonymous = await request(t.app).get("/api/anything").expect(404);
    expect(anonymous.headers["ratelimit-policy"]).toBe('"global";q=300;w=60');
  });
});

describe("Redis work per request", () => {
  it("costs one Redis command (EVALSHA) per limited request", async () => {
    const t = await app({});
    await subscribed(t);
    await request(t.app).get("/auth/me"); // the first call on a connection sends the script body (EVAL)
    const before = await commandCalls(t.redis!);
    for (let i = 0; i < 20; i++) await request(t.app).get("/auth/me").expect(401);
    const after = await commandCalls(t.redis!);
    // commandstats also counts the calls a script makes: each EVALSHA here runs TIME, GET and SET inside
    // Redis. The only command the app sent is the EVALSHA, one per request.
    expect(commandDiff(before, after).commands).toEqual({ evalsha: 20, time: 20, get: 20, set: 20 });
  });

  it("an authenticated /api request: one EVALSHA per policy plus the session's own commands", async () => {
    const t = await app({});
    await subscribed(t);
    const reg = await request(t.app)
      .post("/auth/register")
      .send({ email: `cmd-${Date.now()}@example.com`, password: "correct horse" })
      .expect(201);
    const cookie = String(reg.headers["set-cookie"]?.[0]).split(";")[0]!;
    // Once first: it loads the user into the cache (later requests find it in process memory) and the
    // session script into Redis (its first use is an EVAL).
    await request(t.app).get("/api/anything").set("Cookie", cookie).expect(404);
    const before = await commandCalls(t.redis!);
    for (let i = 0; i < 10; i++) await request(t.app).get("/api/anything").set("Cookie", cookie).expect(404);
    const after = await commandCalls(t.redis!);
    // Sent by the app per request: EVALSHA for `global`, EVALSHA for the session (read, and extend only
    // when due: not here, the session is fresh), EVALSHA for `api`. TIME, SET, PTTL and the GETs run
    // inside the scripts.
    expect(commandDiff(before, after).commands).toEqual({
      evalsha: 30,
      time: 20,
      get: 30,
      set: 20,
      pttl: 10,
    });
  });
});

describe("dry run", () => {
  it("counts and logs, rejects nothing and sends no RateLimit headers", async () => {
    const log = capturingLogger("info");
    const t = await app(
      { RATE_LIMIT_DRY_RUN: "true", RATE_LIMIT_GLOBAL_LIMIT: "1", LOG_LEVEL: "info" },
      log.logger,
    );
    for (let i = 0; i < 3; i++) {
      const res = await request(t.app).get("/auth/me").expect(401);
      expect(res.headers.ratelimit).toBeUndefined();
    }
    const lines = log.lines.filter((l) => l.includes("dry run"));
    expect(lines).toHaveLength(1); // throttled: one line a second per policy
    expect(JSON.parse(lines[0]!)).toMatchObject({ policy: "global", wouldReject: 1 });
  });
});

describe("misconfiguration fails at start-up", () => {
  const limiter = () =>
    createRateLimiter({
      store: new MemoryRateLimitStore({ maxKeys: 10 }),
      keyPrefix: "t",
      logger: silentLogger(),
    });

  it.each([
    [{ name: "a", limit: 0, windowSeconds: 60 }, "rate_limit_invalid_limit"],
    [{ name: "a", limit: -1, windowSeconds: 60 }, "rate_limit_invalid_limit"],
    [{ name: "a", limit: 1.5, windowSeconds: 60 }, "rate_limit_invalid_limit"],
    [{ name: "a", limit: 10, windowSeconds: 0 }, "rate_limit_invalid_window"],
    [{ name: 'a"b', limit: 10, windowSeconds: 60 }, "rate_limit_invalid_name"],
  ])("%o → %s", (options, code) => {
    expect(() => limiter().rateLimit({ ...options, key: () => "x" })).toThrow(
      expect.objectContaining({ code, name: "RateLimitConfigError" }),
    );
  });

  it("two policies under one name", () => {
    const l = limiter();
    l.rateLimit({ name: "login", limit: 1, windowSeconds: 1, key: () => "x" });
    expect(() => l.policy({ name: "login", limit: 2, windowSeconds: 1 })).toThrow(RateLimitConfigError);
    expect(() => l.policy({ name: "login", limit: 2, windowSeconds: 1 })).toThrow(/defined twice/);
  });

  it("a zero limit or window in the environment names the variable", () => {
    expect(() =>
      loadConfig(testEnv({ RATE_LIMIT_LOGIN_LIMIT: "0", RATE_LIMIT_API_WINDOW_SECONDS: "-5" })),
    ).toThrow(ConfigError);
    try {
      loadConfig(testEnv({ RATE_LIMIT_LOGIN_LIMIT: "0", RATE_LIMIT_API_WINDOW_SECONDS: "soon" }));
    } catch (err) {
      expect((err as ConfigError).problems.join("\n")).toMatch(
        /RATE_LIMIT_LOGIN_LIMIT[\s\S]*RATE_LIMIT_API_WINDOW_SECONDS/,
      );
    }
  });
});
