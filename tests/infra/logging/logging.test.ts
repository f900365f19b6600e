import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../server/config/config.js";
import { createRepeatLog } from "../../../server/infra/logging/repeat-log.js";
import { connectRedis, createRedisClient } from "../../../server/infra/redis/redis-client.js";
import type { TestApp } from "../../helpers/app.js";
import { privateRedisServer, testApp, waitUntil } from "../../helpers/fixtures.js";
import { capturingLogger } from "../../helpers/logger.js";
import type { RedisServer } from "../../helpers/redis-server.js";
import { sessionCookie, uniqueEmail } from "../../helpers/session.js";

let redisServer: RedisServer;
let t: TestApp;
const log = capturingLogger("debug");

beforeAll(async () => {
  redisServer = await privateRedisServer({ extraArgs: ["--requirepass", "s3cret-redis-pass"] });
  const url = `redis://default:s3cret-redis-pass@127.0.0.1:${redisServer.port}`;
  t = await testApp({ env: { REDIS_URL: url }, logger: log.logger });
});

describe("logs", () => {
  it("are JSON lines without passwords, cookies or Redis credentials", async () => {
    const email = uniqueEmail("log");
    const reg = await request(t.app).post("/auth/register").send({ email, password: "my-very-secret-pw" });
    const cookie = sessionCookie(reg, t.config.session.cookieName)!;
    await request(t.app)
      .get("/auth/me")
      .set("Cookie", cookie)
      .set("Authorization", "Bearer top-secret-token");
    await request(t.app).post("/auth/login").send({ email, password: "wrong-secret-pw" });

    // A Redis error with the credentials in the URL must not leak them either.
    const badConfig = loadConfig({
      REDIS_URL: `redis://default:wrong-redis-pass@127.0.0.1:${redisServer.port}`,
    });
    const bad = createRedisClient(badConfig.redis!, log.logger, "bad-auth");
    await connectRedis(bad, log.logger);
    bad.disconnect();

    const text = log.text();
    expect(log.lines.length).toBeGreaterThan(3);
    for (const line of log.lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(text).toMatch(/"msg":"request"/);
    expect(text).toMatch(/redis:\/\/default:\*\*\*@127\.0\.0\.1/);
    for (const secret of [
      "my-very-secret-pw",
      "wrong-secret-pw",
      "s3cret-redis-pass",
      "wrong-redis-pass",
      "top-secret-token",
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toContain(cookie.split("=")[1]!);
    expect(text).not.toContain(decodeURIComponent(cookie.split("=")[1]!));
  });

  it("a failure that keeps repeating: one line when it starts, a count per LOG_REPEAT_INTERVAL_MS, one when it stops", async () => {
    const captured = capturingLogger("debug", { repeatIntervalMs: 150 });
    // The interval rides on the logger: a component's child logger keeps it.
    const episodes = createRepeatLog(captured.logger.child({ component: "test" }));
    const parsed = () =>
      captured.lines.map((l) => JSON.parse(l) as { msg: string; episode: string; count?: number });
    for (let i = 0; i < 5; i++) episodes.report("down", "error", { cause: "refused" }, "dependency down");
    expect(parsed().map((l) => l.episode)).toEqual(["start"]);
    await waitUntil(() => parsed().some((l) => l.episode === "repeating"), 5000);
    // Nothing more for one interval: the episode ends with its total.
    await waitUntil(() => parsed().some((l) => l.episode === "end"), 5000);
    expect(parsed().at(-1)).toMatchObject({ msg: "dependency down: ended", episode: "end", count: 5 });
    episodes.close();
  });
});
