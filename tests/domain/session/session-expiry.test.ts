import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../server/config/config.js";
import { type TestApp, testEnv } from "../../helpers/app.js";
import { privateRedisServer, registerUser, testApp } from "../../helpers/fixtures.js";
import type { RedisServer } from "../../helpers/redis-server.js";
import { sessionIdOf, uniqueEmail } from "../../helpers/session.js";
import { sleep } from "../../helpers/sleep.js";

const TTL_S = 3600;
const TTL_MS = TTL_S * 1000;

let redisServer: RedisServer;

beforeAll(async () => {
  // Its own server: a test restarts it.
  redisServer = await privateRedisServer();
});

function appWith(env: Record<string, string>): Promise<TestApp> {
  return testApp({ env: { REDIS_URL: redisServer.url, SESSION_TTL_SECONDS: String(TTL_S), ...env } });
}

/** Registers a fresh user; returns the session cookie and its Redis key. */
async function signIn(t: TestApp): Promise<{ cookie: string; key: string }> {
  const { cookie } = await registerUser(t, { email: uniqueEmail("expiry") });
  return { cookie, key: `${t.config.keyPrefix}:sess:${sessionIdOf(cookie)}` };
}

const me = (t: TestApp, cookie: string) => request(t.app).get("/auth/me").set("Cookie", cookie);

describe("rolling idle timeout with a touch fraction", () => {
  it("extends an active session only once it has used up the fraction, and re-sends the cookie only then", async () => {
    const t = await appWith({ SESSION_TOUCH_FRACTION: "0.5" });
    const { cookie, key } = await signIn(t);
    const redis = t.redis!;

    // 40% of the lifetime used: not extended yet.
    await redis.pexpire(key, Math.round(TTL_MS * 0.6));
    const early = await me(t, cookie);
    expect(early.status).toBe(200);
    expect(early.headers["set-cookie"]).toBeUndefined();
    expect(await redis.pttl(key)).toBeLessThanOrEqual(TTL_MS * 0.6);

    // 60% used: this request extends it to the full TTL again.
    await redis.pexpire(key, Math.round(TTL_MS * 0.4));
    const late = await me(t, cookie);
    expect(late.status).toBe(200);
    expect(await redis.pttl(key)).toBeGreaterThan(TTL_MS * 0.9);
    const expires = /Expires=([^;]+)/.exec(late.headers["set-cookie"]?.[0] ?? "")?.[1];
    expect(Math.abs(Date.parse(expires ?? "") - (Date.now() + TTL_MS))).toBeLessThan(5000);
  });

  it("keeps a session alive for as long as requests keep coming", async () => {
    const t = await appWith({ SESSION_TOUCH_FRACTION: "0.5" });
    const { cookie, key } = await signIn(t);
    const redis = t.redis!;
    for (let i = 0; i < 3; i++) {
      // Each round the session is close to expiring; a request rescues it.
      await redis.pexpire(key, 2000);
      expect((await me(t, cookie)).status).toBe(200);
      expect(await redis.pttl(key)).toBeGreaterThan(TTL_MS * 0.9);
    }
  });

  // Without durable records: the key's expiry in Redis is the whole story here (with them, a key gone early
  // is a loss and the record's own idle expiry decides; durable-sessions.test.ts).
  it("ends an idle session when its time is up", async () => {
    const t = await appWith({ SESSION_TOUCH_FRACTION: "0.5", SESSION_DURABLE: "off" });
    const { cookie, key } = await signIn(t);
    await t.redis!.pexpire(key, 150);
    await sleep(400);
    const res = await me(t, cookie);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("unauthenticated");
  });

  it("with fraction 0 extends the expiry on every request", async () => {
    const t = await appWith({ SESSION_TOUCH_FRACTION: "0" });
    const { cookie, key } = await signIn(t);
    await t.redis!.pexpire(key, TTL_MS - 60_000);
    expect((await me(t, cookie)).status).toBe(200);
    expect(await t.redis!.pttl(key)).toBeGreaterThan(TTL_MS - 5_000);
  });

  // Without durable records: deleting the key is the revocation (with them, a revocation deletes the record
  // first; durable-sessions.test.ts).
  it("refuses a revoked (deleted) session on the very next request", async () => {
    const t = await appWith({ SESSION_TOUCH_FRACTION: "0.5", SESSION_DURABLE: "off" });
    const { cookie, key } = await signIn(t);
    expect((await me(t, cookie)).status).toBe(200);
    await t.redis!.del(key);
    expect((await me(t, cookie)).status).toBe(401);
    expect(await t.redis!.exists(key)).toBe(0);
  });

  it("neither reads nor extends a session whose cookie signature is wrong", async () => {
    const t = await appWith({ SESSION_TOUCH_FRACTION: "0.5" });
    const { cookie, key } = await signIn(t);
    expect((await me(t, cookie)).status).toBe(200); // the genuine value has been verified once
    await t.redis!.pexpire(key, 5000);
    const forged = `${cookie.slice(0, -4)}AAAA`;
    const res = await me(t, forged);
    expect(res.status).toBe(401);
    expect(await t.redis!.pttl(key)).toBeLessThanOrEqual(5000);
  });

  it("answers 503, not 500, when Redis is down, and recovers when it is back", async () => {
    const t = await appWith({ SESSION_TOUCH_FRACTION: "0.5" });
    const { cookie } = await signIn(t);
    await redisServer.kill();
    try {
      const res = await me(t, cookie);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe("service_unavailable");
    } finally {
      await redisServer.start();
    }
    // The session was lost with the (non-persistent) Redis: restored from its durable record.
    for (let i = 0; i < 50 && !t.redis!.status.startsWith("ready"); i++) await sleep(100);
    expect((await me(t, cookie)).status).toBe(200);
  });
});

describe("Redis cost of an authenticated request", () => {
  it("waits for Redis once per request", async () => {
    const t = await appWith({ SESSION_TOUCH_FRACTION: "0.5" });
    const { cookie } = await signIn(t);
    await me(t, cookie);
    const reads = async () =>
      Number(/total_reads_processed:(\d+)/.exec((await t.redis!.info("stats")) as string)?.[1]);
    const requests = 20;
    const started = Date.now();
    const before = await reads();
    for (let i = 0; i < requests; i++) expect((await me(t, cookie)).status).toBe(200);
    const during = (await reads()) - before;
    // The app's background clients (queue, invalidation bus) also read now and then: measure them over as
    // long a quiet stretch, and allow what they did.
    const quietFrom = await reads();
    await sleep(Date.now() - started);
    const background = (await reads()) - quietFrom;
    // One read event per request (its commands arrive in one write), plus this test's two INFO calls and
    // the background reads that fell in the measured stretch but not in the quiet one (seen: up to six on
    // a loaded machine). Two round trips per request would be 40: the line is drawn halfway.
    expect(during - background).toBeLessThan(requests * 1.5);
  });
});

describe("SESSION_TOUCH_FRACTION", () => {
  it.each(["1", "1.5", "-0.1", "abc", "0,5"])("rejects %s, naming the variable", (value) => {
    expect(() => loadConfig(testEnv({ SESSION_TOUCH_FRACTION: value }))).toThrow(ConfigError);
    expect(() => loadConfig(testEnv({ SESSION_TOUCH_FRACTION: value }))).toThrow(/SESSION_TOUCH_FRACTION/);
  });

  it("accepts 0 and decimals below 1, defaulting to 0.1", () => {
    expect(loadConfig(testEnv({ SESSION_TOUCH_FRACTION: "0" })).session.touchFraction).toBe(0);
    expect(loadConfig(testEnv({ SESSION_TOUCH_FRACTION: "0.25" })).session.touchFraction).toBe(0.25);
    expect(loadConfig(testEnv()).session.touchFraction).toBe(0.1);
  });
});
