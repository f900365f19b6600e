import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis as IORedis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { sessionKeyHash } from "../../server/domain/session/session-records.js";
import { type TestApp, uniquePrefix } from "../helpers/app.js";
import type { TestDatabase } from "../helpers/database.js";
import { registerClients, statusWith } from "../helpers/fault-clients.js";
import { closeAfterFile, isolatedDatabase, privateRedisServer, servedApp } from "../helpers/fixtures.js";
import type { RedisServer } from "../helpers/redis-server.js";

// SESSION_FALLBACK=database: while Redis is unreachable (killed, or frozen with SIGSTOP) signed-in requests
// are served from the durable records, a login and a logout still work, and a session logged out meanwhile
// does not come back from Redis' own copy when Redis returns, on this instance or on another one.

const PASSWORD = "correct horse battery";
let database: TestDatabase;

beforeAll(async () => {
  database = await isolatedDatabase();
});

/** A private Redis that keeps its data across a kill (AOF), so a logged-out session's copy comes back. */
async function persistentRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "session-fallback-"));
  closeAfterFile(() => rmSync(dir, { recursive: true, force: true }));
  return privateRedisServer({
    extraArgs: ["--dir", dir, "--appendonly", "yes", "--appendfsync", "always"],
  });
}

const appOn = (redisUrl: string, keyPrefix: string) =>
  servedApp({
    db: database.db,
    env: {
      REDIS_URL: redisUrl,
      KEY_PREFIX: keyPrefix,
      SESSION_FALLBACK: "database",
      REDIS_COMMAND_TIMEOUT_MS: "200",
      METRICS_PUBLIC: "true",
      RATE_LIMIT_GLOBAL_LIMIT: "1000000",
    },
  });

async function post(url: string, path: string, cookie?: string, body?: unknown) {
  return fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
}

const cookieOf = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .find((c) => c.startsWith(`${name}=`))
    ?.split(";")[0];

const sidOf = (cookie: string) => {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf("=") + 1));
  return value.slice(2, value.lastIndexOf("."));
};

async function serving(url: string): Promise<string> {
  const res = await fetch(`${url}/health/complete`, { signal: AbortSignal.timeout(5000) });
  return ((await res.json()) as { sessions: { serving: string } }).sessions.serving;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? Number.NaN);
}

/** Asks with `cookie` until the app's Redis client is back and answers from Redis (a 503 meanwhile). */
async function once200(t: TestApp, url: string, cookie: string): Promise<void> {
  for (let i = 0; i < 100 && t.redis?.status !== "ready"; i++) await new Promise((r) => setTimeout(r, 50));
  expect(await statusWith(url, cookie)).toBe(200);
}

describe("SESSION_FALLBACK=database", () => {
  it("Redis killed: reads, a login and a logout work; the logout holds when Redis returns with its data", async () => {
    const redis = await persistentRedis();
    const prefix = uniquePrefix();
    const { t, url } = await appOn(redis.url, prefix);
    // Another instance on the same Redis and database, idle during the outage.
    const other = await appOn(redis.url, prefix);
    const name = t.config.session.cookieName;
    const [stays, leaves] = (await registerClients(url, name, 2, "fallback")) as [string, string];
    const email = `fallback-late-${Date.now()}@example.com`;
    expect((await post(url, "/auth/register", undefined, { email, password: PASSWORD })).status).toBe(201);
    // A user with two sessions, who signs out everywhere else during the outage.
    const both = `fallback-both-${Date.now()}@example.com`;
    const first = await post(url, "/auth/register", undefined, { email: both, password: PASSWORD });
    const elsewhere = cookieOf(first, name) as string;
    const here = cookieOf(
      await post(url, "/auth/login", undefined, { email: both, password: PASSWORD }),
      name,
    );
    const reads = await metric(url, "session_fallback_reads_total");

    await redis.kill();
    expect(await statusWith(url, stays)).toBe(200);
    expect(await serving(url)).toBe("database");
    expect((await post(url, "/auth/logout", leaves)).status).toBe(204);
    expect(await statusWith(url, leaves)).toBe(401);
    const login = await post(url, "/auth/login", undefined, { email, password: PASSWORD });
    expect(login.status).toBe(200);
    const late = cookieOf(login, name) as string;
    expect(await statusWith(url, late)).toBe(200);
    expect((await post(url, "/auth/sessions/revoke-others", here as string, {})).status).toBe(204);
    expect(await statusWith(url, elsewhere)).toBe(401);
    expect(await metric(url, "session_fallback_reads_total")).toBeGreaterThanOrEqual(reads + 2);

    // Redis returns from its AOF, with its copy of the session logged out meanwhile.
    await redis.start();
    const c = new IORedis({ host: "127.0.0.1", port: redis.port, maxRetriesPerRequest: 1 });
    closeAfterFile(async () => c.disconnect());
    expect(await c.exists(`${t.config.keyPrefix}:sess:${sidOf(leaves)}`)).toBe(1);
    for (let i = 0; i < 100 && other.t.redis?.status !== "ready"; i++)
      await new Promise((r) => setTimeout(r, 50));
    // The idle instance never wrote the journal: it reads it before serving from Redis again.
    expect(await statusWith(other.url, leaves)).toBe(401);
    expect(await c.exists(`${t.config.keyPrefix}:sess:${sidOf(elsewhere)}`)).toBe(1);
    expect(await statusWith(other.url, elsewhere)).toBe(401);
    expect(await statusWith(other.url, here as string)).toBe(200);
    expect(await c.exists(`${t.config.keyPrefix}:sess:${sidOf(leaves)}`)).toBe(0);
    await once200(t, url, stays);
    expect(await statusWith(url, leaves)).toBe(401);
    // The session begun during the outage is restored into Redis (and the index) on its first read.
    expect(await statusWith(url, late)).toBe(200);
    expect(await c.exists(`${t.config.keyPrefix}:sess:${sidOf(late)}`)).toBe(1);
    expect(await serving(url)).toBe("redis");
    const journal = await database.db.query("SELECT 1 FROM session_revocations WHERE key_hash = $1", [
      sessionKeyHash(sidOf(leaves)),
    ]);
    expect(journal.rows).toHaveLength(1);
  });

  it("Redis frozen (SIGSTOP): served from the database; a logout made while frozen holds after SIGCONT", async () => {
    const redis = await persistentRedis();
    const { t, url } = await appOn(redis.url, uniquePrefix());
    const [stays, leaves] = (await registerClients(url, t.config.session.cookieName, 2, "frozen")) as [
      string,
      string,
    ];
    redis.freeze();
    try {
      expect(await statusWith(url, stays)).toBe(200);
      expect((await post(url, "/auth/logout", leaves)).status).toBe(204);
      expect(await statusWith(url, leaves)).toBe(401);
      expect(await serving(url)).toBe("database");
    } finally {
      redis.thaw();
    }
    await once200(t, url, stays);
    expect(await statusWith(url, leaves)).toBe(401);
    expect(await serving(url)).toBe("redis");
  });
});
