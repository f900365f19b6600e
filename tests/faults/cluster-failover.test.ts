import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { keepRequesting, registerClients, statusWith, watchDeletes } from "../helpers/fault-clients.js";
import { listen } from "../helpers/listen.js";
import { type RedisCluster, startRedisCluster } from "../helpers/redis-cluster.js";
import { sessionIdOf } from "../helpers/session.js";
import { sleep } from "../helpers/sleep.js";

// Redis Cluster, 3 masters + 3 replicas: a master dies, its replica is promoted, and every session
// works again; the app deletes none of them on the way.
const CLIENTS = 30;

let cluster: RedisCluster;
let database: TestDatabase;
let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;
const direct: Redis[] = [];

async function connectTo(port: number): Promise<Redis> {
  const r = new Redis(port, "127.0.0.1", {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on("error", () => undefined);
  await r.connect();
  direct.push(r);
  return r;
}

describe.skipIf(process.env.SKIP_SLOW === "1")("Redis Cluster failover", () => {
  beforeAll(async () => {
    cluster = await startRedisCluster({ replicas: 1, nodeTimeoutMs: 1000 });
    database = await createTestDatabase();
    t = await buildTestApp({
      db: database.db,
      env: {
        REDIS_URL: cluster.url,
        REDIS_CLUSTER: "true",
        REDIS_COMMAND_TIMEOUT_MS: "500",
        RATE_LIMIT_GLOBAL_LIMIT: "1000000",
        RATE_LIMIT_LOGIN_LIMIT: "1000",
      },
    });
    server = await listen(t.app);
  });

  afterAll(async () => {
    for (const r of direct) r.disconnect();
    await server?.close();
    await t?.close();
    await cluster?.stop(); // before the database: a slow schema drop must not leave it running
    await database?.close();
  });

  it("a master killed: its replica takes over and every session still works", async () => {
    const cookies = await registerClients(server.url, t.config.session.cookieName, CLIENTS, "failover");
    for (const cookie of cookies) expect(await statusWith(server.url, cookie)).toBe(200);
    const keys = cookies.map((c) => `${t.config.keyPrefix}:sess:${sessionIdOf(c)}`);

    // The master holding the most sessions; every write has reached the replicas before it dies.
    const nodes = await Promise.all(
      cluster.nodes.map(async (n) => ({ node: n, client: await connectTo(n.port) })),
    );
    const masters = [];
    for (const entry of nodes) {
      if ((await entry.client.info("replication")).includes("role:master")) {
        const held = (await entry.client.keys(`${t.config.keyPrefix}:sess:*`)).length;
        masters.push({ ...entry, held });
        expect(await entry.client.call("WAIT", "1", "5000")).toBe(1);
      }
    }
    expect(masters).toHaveLength(3);
    masters.sort((x, y) => y.held - x.held);
    const victim = masters[0]!;
    expect(victim.held).toBeGreaterThan(0);
    const survivors = nodes.filter((n) => n.node !== victim.node);
    const deletes = await Promise.all(survivors.map((n) => watchDeletes(n.node.port)));

    let stopped = false;
    const load = keepRequesting(server.url, cookies, () => stopped);
    const killedAt = Date.now();
    try {
      await sleep(100);
      await victim.node.kill();
      await vi.waitFor(
        async () => {
          const statuses = await Promise.all(cookies.map((c) => statusWith(server.url, c)));
          expect(statuses.filter((s) => s !== 200)).toEqual([]);
        },
        { timeout: 30_000, interval: 250 },
      );
    } finally {
      stopped = true;
    }
    const outcomes = await load;
    console.info(
      JSON.stringify({
        fault: "Cluster master killed, replica promoted",
        clients: CLIENTS,
        sessionsOnVictim: victim.held,
        recoveredMs: Date.now() - killedAt,
        ...outcomes,
      }),
    );

    // Each session key is still there, on whichever node now owns its slot.
    for (const key of keys) {
      const found = await Promise.all(
        survivors.map(async (s) => {
          try {
            return (await s.client.call("EXISTS", key)) === 1;
          } catch {
            return false; // MOVED: another node owns the slot
          }
        }),
      );
      expect(found.some(Boolean)).toBe(true);
    }
    // Only the cache's own keys may be deleted (its locks; its entries after an L1 flush), never a session.
    for (const d of deletes) d.stop();
    const sessionDeletes = deletes
      .flatMap((d) => d.keys)
      .filter((k) => k.startsWith(`${t.config.keyPrefix}:sess:`));
    expect(sessionDeletes).toEqual([]);
    expect(outcomes.resets).toBe(0);
    expect(outcomes.other).toEqual({});
    expect(outcomes.bad503).toBe(0);
  });
});
