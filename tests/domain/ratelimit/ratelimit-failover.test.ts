import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../helpers/app.js";
import { privateRedisServer, testApp, waitUntil } from "../../helpers/fixtures.js";
import { capturingLogger, silentLogger } from "../../helpers/logger.js";
import type { RedisServer } from "../../helpers/redis-server.js";
import { commandCalls, commandDiff } from "../../helpers/redis-stats.js";

let redisServer: RedisServer;
let t: TestApp;
const log = capturingLogger("info");

beforeAll(async () => {
  // Its own server: the tests kill it, and count the commands it runs.
  redisServer = await privateRedisServer();
  t = await testApp({
    logger: log.logger,
    env: {
      REDIS_URL: redisServer.url,
      LOG_LEVEL: "info",
      RATE_LIMIT_GLOBAL_LIMIT: "6",
      RATE_LIMIT_GLOBAL_WINDOW_SECONDS: "600",
      RATE_LIMIT_INSTANCES: "2",
    },
  });
});

async function timedGet(path: string) {
  const started = Date.now();
  const res = await request(t.app).get(path).timeout(5000);
  return {
    status: res.status,
    ms: Date.now() - started,
    policy: res.headers["ratelimit-policy"] as string,
    remaining: res.headers.ratelimit as string,
  };
}

const until = waitUntil;

const switched = () => log.lines.filter((l) => l.includes("Redis unavailable; limiting in this process"));
const recovered = () => log.lines.filter((l) => l.includes("Redis is back; using shared limits"));
const key = () => `${t.config.keyPrefix}:rl:{global:127.0.0.1}`;

describe("Redis failure", () => {
  it("keeps limiting in-process while Redis is dead, then goes back to Redis once it is restarted", async () => {
    expect((await timedGet("/auth/me")).status).toBe(401);
    expect(await t.redis!.exists(key())).toBe(1);

    await redisServer.kill();
    // 6 per window over 2 instances: each instance lets 3 through on its own, counting from zero.
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await timedGet("/auth/me"));
    expect(results.map((r) => r.status)).toEqual([401, 401, 401, 429, 429]);
    // The headers tell the truth about the limit in force.
    expect(results[0]?.policy).toBe('"global";q=3;w=600');
    expect(results[0]?.remaining).toBe('"global";r=2;t=200');
    for (const r of results) expect(r.ms).toBeLessThan(2000); // no hang: the client fails fast
    expect(switched()).toHaveLength(1);

    // Restarted empty: no script cached, no counts.
    await redisServer.start();
    await until(() => t.redis!.status === "ready", 15_000);
    const before = await commandCalls(t.redis!);
    // Within a probe interval (1 s) the next request goes to Redis again.
    await until(
      async () => (await timedGet("/auth/me")).status === 401 && (await t.redis!.exists(key())) === 1,
      5000,
    );
    const after = await commandCalls(t.redis!);
    expect(commandDiff(before, after).commands.eval).toBe(1); // the new connection sent the script body once
    expect(recovered()).toHaveLength(1);
    expect(switched()).toHaveLength(1);

    // Back on the shared limit of 6, counted afresh in Redis (the in-process counts are not replayed).
    const shared = await timedGet("/auth/me");
    expect(shared.status).toBe(401);
    expect(shared.policy).toBe('"global";q=6;w=600');
    expect(shared.remaining).toMatch(/^"global";r=[34];t=\d+$/);
    expect(log.text()).not.toMatch(/"level":50[^\n]*ratelimit/);
  });
});

describe("a hung Redis (accepts connections, never answers)", () => {
  it("costs at most one command timeout per probe, then the in-process limiter answers at once", async () => {
    const server = await privateRedisServer();
    const hung = await testApp({
      logger: silentLogger(),
      env: {
        REDIS_URL: server.url,
        REDIS_COMMAND_TIMEOUT_MS: "1000",
        RATE_LIMIT_GLOBAL_LIMIT: "3",
      },
    });
    try {
      await until(async () => {
        if (hung.redis!.status !== "ready") await hung.redis!.connect().catch(() => undefined);
        return hung.redis!.status === "ready";
      }, 10_000);
      await request(hung.app).get("/auth/me").expect(401);
      server.freeze();
      const timings: number[] = [];
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        statuses.push((await request(hung.app).get("/auth/me").timeout(5000)).status);
        timings.push(Date.now() - started);
      }
      // The first waits for the 1 s command timeout; the next ones (within the 1 s probe interval) are
      // answered locally without waiting for Redis.
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      expect(timings[0]).toBeGreaterThanOrEqual(900);
      expect(timings[0]).toBeLessThan(3000);
      for (const ms of timings.slice(1)) expect(ms).toBeLessThan(900);
    } finally {
      server.thaw();
      await hung.close();
      await server.stop();
    }
  });
});
