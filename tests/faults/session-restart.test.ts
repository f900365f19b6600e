import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { keepRequesting, registerClients, statusWith, watchDeletes } from "../helpers/fault-clients.js";
import { listen } from "../helpers/listen.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { sessionIdOf } from "../helpers/session.js";
import { sleep } from "../helpers/sleep.js";

// Redis crashes (SIGKILL) and comes back from its append-only file: every session written before the
// crash works again, and the app deletes none of them on the way.
const CLIENTS = 20;

let dir: string;
let redisServer: RedisServer;
let database: TestDatabase;
let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "redis-aof-"));
  redisServer = await startRedisServer({
    extraArgs: ["--appendonly", "yes", "--appendfsync", "always", "--dir", dir],
  });
  database = await createTestDatabase();
  t = await buildTestApp({
    db: database.db,
    env: {
      REDIS_URL: redisServer.url,
      REDIS_COMMAND_TIMEOUT_MS: "200",
      RATE_LIMIT_GLOBAL_LIMIT: "1000000",
      RATE_LIMIT_LOGIN_LIMIT: "1000",
    },
  });
  server = await listen(t.app);
});

afterAll(async () => {
  await server?.close();
  await t?.close();
  await redisServer?.stop(); // before the database: a slow schema drop must not leave it running
  await database?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("Redis killed and restarted with AOF", () => {
  it("keeps every session; clients see 503s while it is down, never a 500 or a reset", async () => {
    const cookies = await registerClients(server.url, t.config.session.cookieName, CLIENTS, "aof");
    for (const cookie of cookies) expect(await statusWith(server.url, cookie)).toBe(200);

    let stopped = false;
    const load = keepRequesting(server.url, cookies, () => stopped);
    let restartedAt = 0;
    let deletes: Awaited<ReturnType<typeof watchDeletes>> | undefined;
    try {
      await sleep(100);
      await redisServer.kill();
      await sleep(1000);
      await redisServer.start();
      restartedAt = Date.now();
      deletes = await watchDeletes(redisServer.port);
      // Clients keep going until each has been served again (bounded by vi.waitFor).
      await vi.waitFor(
        async () => {
          const statuses = await Promise.all(cookies.map((c) => statusWith(server.url, c)));
          expect(statuses.filter((s) => s !== 200)).toEqual([]);
        },
        { timeout: 15_000, interval: 200 },
      );
    } finally {
      stopped = true;
      deletes?.stop();
    }
    const outcomes = await load;
    console.info(
      JSON.stringify({
        fault: "SIGKILL + restart with AOF",
        clients: CLIENTS,
        recoveredMs: Date.now() - restartedAt,
        ...outcomes,
      }),
    );

    const admin = new Redis(redisServer.port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: null });
    await admin.connect();
    try {
      const keys = cookies.map((c) => `${t.config.keyPrefix}:sess:${sessionIdOf(c)}`);
      const exists = await Promise.all(keys.map((k) => admin.exists(k)));
      expect(exists.filter((n) => n !== 1)).toEqual([]);
      // Nothing deleted a session once the server was back.
      expect(deletes?.keys.filter((k) => k.startsWith(`${t.config.keyPrefix}:sess:`))).toEqual([]);
    } finally {
      admin.disconnect();
    }
    expect(outcomes.resets).toBe(0);
    expect(outcomes.other).toEqual({});
    expect(outcomes.bad503).toBe(0);
    expect(outcomes.unavailable).toBeGreaterThan(0);
  });
});
