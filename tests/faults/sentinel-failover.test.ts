import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { TestApp } from "../helpers/app.js";
import { keepRequesting, registerClients, statusWith, watchDeletes } from "../helpers/fault-clients.js";
import { closeAfterFile, testApp } from "../helpers/fixtures.js";
import { listen } from "../helpers/listen.js";
import {
  type RedisSentinelSetup,
  SENTINEL_MASTER_NAME,
  startRedisSentinel,
} from "../helpers/redis-sentinel.js";
import { sessionIdOf } from "../helpers/session.js";
import { sleep } from "../helpers/sleep.js";

// Redis Sentinel: a primary, a replica and three sentinels. The primary is killed; the sentinels promote
// the replica, the app follows, and every session works again with the same cookie.
const CLIENTS = 20;

let setup: RedisSentinelSetup;
let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;

async function healthPrimary(url: string): Promise<string | undefined> {
  const res = await fetch(`${url}/health/redis`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { primary?: string };
  return res.status === 200 ? body.primary : undefined;
}

describe.skipIf(process.env.SKIP_SLOW === "1")("Redis Sentinel failover", () => {
  beforeAll(async () => {
    setup = await startRedisSentinel();
    closeAfterFile(() => setup.stop());
    t = await testApp({
      redis: false,
      env: {
        REDIS_SENTINELS: setup.sentinelList,
        REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME,
        REDIS_COMMAND_TIMEOUT_MS: "500",
        HEALTH_DETAILS: "public", // the test reads the primary's address
        RATE_LIMIT_GLOBAL_LIMIT: "1000000",
        RATE_LIMIT_LOGIN_LIMIT: "1000",
      },
    });
    server = await listen(t.app);
    closeAfterFile(() => server.close());
  });

  afterAll(async () => {
    await server?.close(); // before the fixtures close the app and stop the servers
  });

  it("the primary killed: the replica is promoted, the same cookies work, no session lost, 503 never 500", async () => {
    expect(await healthPrimary(server.url)).toBe(`127.0.0.1:${setup.primary.port}`);
    const cookies = await registerClients(server.url, t.config.session.cookieName, CLIENTS, "sentinel");
    for (const cookie of cookies) expect(await statusWith(server.url, cookie)).toBe(200);
    const keys = cookies.map((c) => `${t.config.keyPrefix}:sess:${sessionIdOf(c)}`);

    // Replication is asynchronous: every session has reached the replica before the primary dies.
    const onPrimary = new Redis(setup.primary.port, "127.0.0.1", {
      lazyConnect: true,
      retryStrategy: () => null,
    });
    onPrimary.on("error", () => undefined);
    await onPrimary.connect();
    expect(await onPrimary.call("WAIT", "1", "1000")).toBe(1);
    onPrimary.disconnect();
    const deletes = await watchDeletes(setup.replica.port);

    let stopped = false;
    const load = keepRequesting(server.url, cookies, () => stopped);
    let killedAt = 0;
    let recoveredMs = 0;
    try {
      await sleep(200);
      killedAt = Date.now();
      await setup.primary.kill();
      await vi.waitFor(
        async () => {
          const statuses = await Promise.all(cookies.map((c) => statusWith(server.url, c)));
          expect(statuses.filter((s) => s !== 200)).toEqual([]);
        },
        { timeout: 30_000, interval: 100 },
      );
      recoveredMs = Date.now() - killedAt;
      await sleep(300); // some load on the new primary too
    } finally {
      stopped = true;
    }
    const outcomes = await load;
    deletes.stop();
    const promotedTo = await setup.currentPrimary();
    console.info(
      JSON.stringify({
        fault: "Sentinel primary killed, replica promoted",
        clients: CLIENTS,
        recoveredMs,
        ...outcomes,
      }),
    );

    expect(promotedTo).toBe(`127.0.0.1:${setup.replica.port}`);
    expect(await healthPrimary(server.url)).toBe(promotedTo);
    const onReplica = new Redis(setup.replica.port, "127.0.0.1", {
      lazyConnect: true,
      retryStrategy: () => null,
    });
    onReplica.on("error", () => undefined);
    await onReplica.connect();
    try {
      expect(await onReplica.exists(...keys)).toBe(keys.length);
    } finally {
      onReplica.disconnect();
    }
    expect(deletes.keys.filter((k) => k.startsWith(`${t.config.keyPrefix}:sess:`))).toEqual([]);
    expect(outcomes.other).toEqual({}); // no 500, no 401 for a session that still exists
    expect(outcomes.resets).toBe(0);
    expect(outcomes.bad503).toBe(0);
    expect(outcomes.ok).toBeGreaterThan(0);
  });
});
