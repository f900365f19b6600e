import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import {
  type FaultOutcomes,
  keepRequesting,
  registerClients,
  statusWith,
  watchDeletes,
} from "../helpers/fault-clients.js";
import { listen } from "../helpers/listen.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { sessionIdOf } from "../helpers/session.js";
import { sleep } from "../helpers/sleep.js";

// Redis stalls longer than the command timeout while logged-in clients keep making requests: each
// answer is a complete 503 (or a 200), and afterwards every session still exists and works.
const CLIENTS = 20;
const COMMAND_TIMEOUT_MS = 200;

let redisServer: RedisServer;
let database: TestDatabase;
let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;
let admin: Redis;
let cookies: string[];

beforeAll(async () => {
  redisServer = await startRedisServer();
  database = await createTestDatabase();
  t = await buildTestApp({
    db: database.db,
    env: {
      REDIS_URL: redisServer.url,
      REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
      // The clients all come from one address: the limits are not what this is about.
      RATE_LIMIT_GLOBAL_LIMIT: "1000000",
      RATE_LIMIT_LOGIN_LIMIT: "1000",
    },
  });
  server = await listen(t.app);
  // No command timeout: this client must wait out the stall it causes or observes.
  admin = new Redis(redisServer.port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: null });
  await admin.connect();
  cookies = await registerClients(server.url, t.config.session.cookieName, CLIENTS, "stall");
});

afterAll(async () => {
  admin?.disconnect();
  await server?.close();
  await t?.close();
  await redisServer?.stop(); // before the database: a slow schema drop must not leave it running
  await database?.close();
});

const sessionKey = (cookie: string) => `${t.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;

/** Runs `fault` while every client keeps requesting; checks what they saw and that nothing was lost. */
async function underFault(name: string, fault: () => Promise<void>): Promise<FaultOutcomes> {
  for (const cookie of cookies) expect(await statusWith(server.url, cookie)).toBe(200);
  const deletes = await watchDeletes(redisServer.port);
  try {
    let stopped = false;
    const load = keepRequesting(server.url, cookies, () => stopped);
    await sleep(100);
    try {
      await fault();
    } finally {
      await sleep(300); // a little traffic after the fault, while the backlog drains
      stopped = true;
    }
    const outcomes = await load;
    console.info(JSON.stringify({ fault: name, clients: CLIENTS, ...outcomes }));

    // Every cookie works again once Redis answers: zero sessions lost.
    await vi.waitFor(
      async () => {
        const statuses = await Promise.all(cookies.map((c) => statusWith(server.url, c)));
        expect(statuses.filter((s) => s !== 200)).toEqual([]);
      },
      { timeout: 10_000, interval: 200 },
    );
    const exists = await Promise.all(cookies.map((c) => admin.exists(sessionKey(c))));
    expect(exists.filter((n) => n !== 1)).toEqual([]);
    // No session was deleted as a side effect of the failures.
    expect(deletes.keys.filter((k) => k.startsWith(`${t.config.keyPrefix}:sess:`))).toEqual([]);

    expect(outcomes.resets).toBe(0);
    expect(outcomes.other).toEqual({});
    expect(outcomes.bad503).toBe(0);
    expect(outcomes.unavailable).toBeGreaterThan(0); // the fault did reach the clients
    expect(outcomes.maxMs).toBeLessThan(5000);
    return outcomes;
  } finally {
    deletes.stop();
  }
}

describe("a stalled Redis never loses a session", () => {
  it("Redis frozen (SIGSTOP) for 1.5 s", async () => {
    await underFault("SIGSTOP 1.5 s", async () => {
      redisServer.signal("SIGSTOP");
      try {
        await sleep(1500);
      } finally {
        redisServer.signal("SIGCONT");
      }
    });
  });

  it("CLIENT PAUSE 1500 WRITE from another client (what a managed failover does)", async () => {
    await underFault("CLIENT PAUSE 1500 WRITE", async () => {
      await admin.call("CLIENT", "PAUSE", "1500", "WRITE");
      await sleep(1500);
    });
  });

  it("a 1.2 s Lua script from another client", async () => {
    const busy = new Redis(redisServer.port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: null });
    await busy.connect();
    try {
      await underFault("busy Lua script 1.2 s", async () => {
        // Spins on the server's clock without writing anything.
        await busy.eval(
          `local t0 = redis.call('TIME')
           while true do
             local t = redis.call('TIME')
             if (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 1200000 then return 1 end
           end`,
          0,
        );
      });
    } finally {
      busy.disconnect();
    }
  });
});
