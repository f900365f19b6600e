import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis as IORedis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import type { DurableSessions } from "../../server/domain/session/durable-sessions.js";
import type { SessionRedisStore } from "../../server/domain/session/redis-store.js";
import type { TestApp } from "../helpers/app.js";
import type { TestDatabase } from "../helpers/database.js";
import { registerClients, statusWith } from "../helpers/fault-clients.js";
import { closeAfterFile, isolatedDatabase, privateRedisServer, servedApp } from "../helpers/fixtures.js";
import type { RedisServer } from "../helpers/redis-server.js";
import { startTcpProxy } from "../helpers/tcp-proxy.js";

// 50 logged-in users, then Redis loses every session (flush, eviction, a restart without persistence, a
// replica promoted before it had the newest logins): every cookie works afterwards, restored from its
// durable record, and nothing answers 500.
const USERS = 50;

let database: TestDatabase;

beforeAll(async () => {
  database = await isolatedDatabase();
});

const redisServer = (extraArgs: string[] = []): Promise<RedisServer> => privateRedisServer({ extraArgs });

/** A plain client that gives up fast: the server under it is killed and restarted. */
function client(port: number): IORedis {
  const c = new IORedis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1 });
  c.on("error", () => undefined);
  closeAfterFile(() => c.disconnect());
  return c;
}

const appOn = (redisUrl: string) =>
  servedApp({
    db: database.db,
    env: {
      REDIS_URL: redisUrl,
      RATE_LIMIT_GLOBAL_LIMIT: "1000000",
      RATE_LIMIT_LOGIN_LIMIT: "100000",
      REDIS_COMMAND_TIMEOUT_MS: "5000",
      CACHE_L2_TIMEOUT_MS: "5000",
    },
  });

const durableOf = (t: TestApp) => (t.services.store as SessionRedisStore).durable as DurableSessions;

/** Every cookie's answer, 10 at a time, once the app's Redis client answers again. */
async function answers(t: TestApp, url: string, cookies: string[]): Promise<Array<number | "reset">> {
  for (let i = 0; i < 100 && t.redis?.status !== "ready"; i++) await new Promise((r) => setTimeout(r, 100));
  // The client may not have seen its connection reset yet: answered 503 until it reconnects, never 500.
  for (let i = 0; i < 100; i++) {
    const probe = await statusWith(url, cookies[0] as string);
    expect(probe === 200 || probe === 503 || probe === "reset").toBe(true);
    if (probe === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const out: Array<number | "reset"> = [];
  for (let i = 0; i < cookies.length; i += 10) {
    out.push(...(await Promise.all(cookies.slice(i, i + 10).map((c) => statusWith(url, c)))));
  }
  return out;
}

async function sessionKeys(c: IORedis, t: TestApp): Promise<number> {
  return (await c.keys(`${t.config.keyPrefix}:sess:*`)).length;
}

describe("every session survives Redis losing it", () => {
  it("FLUSHALL: 50/50 restored, two queries each", async () => {
    const redis = await redisServer();
    const { t, url } = await appOn(redis.url);
    const cookies = await registerClients(url, t.config.session.cookieName, USERS, "flush");
    const c = client(redis.port);
    await c.flushall();
    const before = durableOf(t).stats();
    const statuses = await answers(t, url, cookies);
    expect(statuses.filter((s) => s === 200)).toHaveLength(USERS);
    const after = durableOf(t).stats();
    expect(after.restores - before.restores).toBe(USERS);
    expect((after.queries - before.queries) / USERS).toBeLessThanOrEqual(2);
    expect(await sessionKeys(c, t)).toBe(USERS);
  });

  it("allkeys-lru with a small maxmemory filled by another client: 50/50, and the audit says they are protected", async () => {
    const redis = await redisServer(["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"]);
    const { t, url } = await appOn(redis.url);
    const cookies = await registerClients(url, t.config.session.cookieName, USERS, "lru");
    const c = client(redis.port);
    const filler = "x".repeat(64 * 1024);
    for (let i = 0; i < 400 && (await sessionKeys(c, t)) > 0; i++) await c.set(`filler:${i}`, filler);
    expect(await sessionKeys(c, t)).toBeLessThan(USERS / 2);

    const statuses = await answers(t, url, cookies);
    expect(statuses.filter((s) => s === 200)).toHaveLength(USERS);
    const report = await t.services.audits.sessions?.current();
    const policy = report?.findings.find((f) => f.code === "evicting_policy");
    expect(policy?.message).toContain("protected");
  });

  it("Redis killed and restarted without persistence: 50/50", async () => {
    const redis = await redisServer();
    const { t, url } = await appOn(redis.url);
    const cookies = await registerClients(url, t.config.session.cookieName, USERS, "restart");
    await redis.kill();
    await redis.start();
    const statuses = await answers(t, url, cookies);
    expect(statuses.filter((s) => s === 200)).toHaveLength(USERS);
    expect(statuses.filter((s) => s === 500)).toHaveLength(0);
  });

  it("a replica promoted that never received the newest logins: 50/50", async () => {
    // Full resynchronisation writes an RDB file in each server's directory: a temporary one, not the cwd.
    const dir = mkdtempSync(join(tmpdir(), "durable-replica-"));
    closeAfterFile(async () => rmSync(dir, { recursive: true, force: true }));
    const primary = await redisServer(["--dir", dir, "--dbfilename", "primary.rdb"]);
    const replica = await redisServer(["--dir", dir, "--dbfilename", "replica.rdb"]);
    const r = client(replica.port);
    await r.replicaof("127.0.0.1", primary.port);
    const target = { host: "127.0.0.1", port: primary.port };
    const proxy = await startTcpProxy(target);
    closeAfterFile(() => proxy.close());
    const { t, url } = await appOn(`redis://127.0.0.1:${proxy.port}`);
    const name = t.config.session.cookieName;
    const early = await registerClients(url, name, USERS / 2, "replicated");
    // Replication caught up with the early logins, then stops: the late ones exist on the primary only.
    for (let i = 0; i < 100 && (await sessionKeys(r, t)) < USERS / 2; i++)
      await new Promise((res) => setTimeout(res, 50));
    await r.replicaof("NO", "ONE");
    const late = await registerClients(url, name, USERS / 2, "unreplicated");
    expect(await sessionKeys(r, t)).toBe(USERS / 2);

    // Failover: the primary is gone, the address now leads to the promoted replica.
    await proxy.cut("refuse");
    await primary.kill();
    target.port = replica.port;
    await proxy.restore();
    const statuses = await answers(t, url, [...early, ...late]);
    expect(statuses.filter((s) => s === 200)).toHaveLength(USERS);
  });
});
