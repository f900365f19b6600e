import { request as httpRequest } from "node:http";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildTestApp, type TestApp, uniquePrefix } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { statusWith } from "../helpers/fault-clients.js";
import { listen } from "../helpers/listen.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { sessionIdOf } from "../helpers/session.js";

// A request in flight on a session that is then revoked, logged out or password-changed must not write
// it back when it ends; a login that verified the old password must not outlive the change.
const PASSWORD = "correct horse battery";

let redisServer: RedisServer;
let database: TestDatabase;
let a: TestApp;
let b: TestApp;
let urlA: string;
let urlB: string;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  redisServer = await startRedisServer();
  database = await createTestDatabase();
  // Two instances of one deployment: shared Redis, database and key prefix.
  const env = {
    REDIS_URL: redisServer.url,
    KEY_PREFIX: uniquePrefix(),
    RATE_LIMIT_LOGIN_LIMIT: "1000",
    // Generous: a slow reply on a busy machine must not look like an outage here.
    REDIS_COMMAND_TIMEOUT_MS: "5000",
    CACHE_L2_TIMEOUT_MS: "5000",
  };
  a = await buildTestApp({ db: database.db, env });
  b = await buildTestApp({ db: database.db, env });
  const sa = await listen(a.app);
  const sb = await listen(b.app);
  urlA = sa.url;
  urlB = sb.url;
  closers.push(sa.close, sb.close);
});

afterAll(async () => {
  for (const close of closers) await close();
  await a?.close();
  await b?.close();
  await redisServer?.stop(); // before the database: a slow schema drop must not leave it running
  await database?.close();
});

let counter = 0;
const newEmail = () => `race-${process.pid}-${Date.now()}-${++counter}@example.com`;

async function call(
  base: string,
  method: string,
  path: string,
  cookie?: string,
  body?: unknown,
): Promise<{ status: number; cookie?: string; json: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(cookie ? { cookie } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const name = a.config.session.cookieName;
  const set = res.headers
    .getSetCookie()
    .find((c) => c.startsWith(`${name}=`) && !c.startsWith(`${name}=;`))
    ?.split(";")[0];
  return { status: res.status, cookie: set, json: text ? JSON.parse(text) : undefined };
}

async function register(email = newEmail()) {
  const res = await call(urlA, "POST", "/auth/register", undefined, { email, password: PASSWORD });
  expect(res.status).toBe(201);
  return { email, cookie: res.cookie as string, userId: (res.json as { user: { id: string } }).user.id };
}

async function login(base: string, email: string, password = PASSWORD) {
  const res = await call(base, "POST", "/auth/login", undefined, { email, password });
  expect(res.status).toBe(200);
  return res.cookie as string;
}

const sessionKey = (cookie: string) => `${a.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;
const seenKey = (userId: string) => `${a.config.keyPrefix}:sess-index:{${userId}}:seen`;

/**
 * Starts a POST on `cookie`'s session whose body arrives only when `release()` is called. The session
 * is made to look a minute old first, so this request changes it (last seen) and express-session
 * saves it when the request ends: the write that must not bring a removed session back. Resolves
 * once the request has loaded and changed the session (its last-seen time reached the index).
 */
async function holdRequest(cookie: string, userId: string) {
  const redis = a.redis!;
  const key = sessionKey(cookie);
  const stored = JSON.parse((await redis.get(key)) as string);
  stored.auth.lastSeenAt = stored.auth.loginAt - 61_000;
  await redis.set(key, JSON.stringify(stored), "KEEPTTL");
  const seenBefore = Number(await redis.zscore(seenKey(userId), sessionIdOf(cookie)));

  // A real route with a JSON body: a password change with a wrong current password (403, no change).
  const body = JSON.stringify({ currentPassword: "not the password", newPassword: "whatever-else-1" });
  const { port, hostname } = new URL(urlA);
  let answered: (v: { status: number }) => void = () => undefined;
  let failed: (err: unknown) => void = () => undefined;
  const response = new Promise<{ status: number }>((resolve, reject) => {
    answered = resolve;
    failed = reject;
  });
  const req = httpRequest(
    {
      host: hostname,
      port,
      method: "POST",
      path: "/auth/password",
      headers: { cookie, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      timeout: 15_000,
    },
    (res) => {
      res.resume();
      res.on("end", () => answered({ status: res.statusCode ?? 0 }));
      res.on("error", failed);
    },
  );
  req.on("error", failed);
  req.on("timeout", () => req.destroy(new Error("held request timed out")));
  req.write(body.slice(0, 10));
  await vi.waitFor(
    async () =>
      expect(Number(await redis.zscore(seenKey(userId), sessionIdOf(cookie)))).toBeGreaterThan(seenBefore),
    { timeout: 5000, interval: 20 },
  );
  return {
    release() {
      req.end(body.slice(10));
      return response;
    },
  };
}

/** The session behind `cookie` is gone for good: refused on both instances, absent from Redis and the list. */
async function expectGone(cookie: string, listedFrom?: string) {
  // Checked before any request on it, which would end it anyway if its epoch were old.
  expect(await a.redis!.exists(sessionKey(cookie))).toBe(0);
  expect(await statusWith(urlA, cookie)).toBe(401);
  expect(await statusWith(urlB, cookie)).toBe(401);
  if (listedFrom) {
    const listed = await call(urlA, "GET", "/auth/sessions", listedFrom);
    expect(listed.status).toBe(200);
    expect((listed.json as { sessions: unknown[] }).sessions).toHaveLength(1);
  }
}

describe("a request in flight never brings back a removed session", () => {
  it("revoked from another session (DELETE /auth/sessions/:id)", async () => {
    const { email, cookie: held, userId } = await register();
    const other = await login(urlB, email);
    const hold = await holdRequest(held, userId);

    const listed = await call(urlB, "GET", "/auth/sessions", other);
    const target = (listed.json as { sessions: Array<{ id: string; current: boolean }> }).sessions.find(
      (s) => !s.current,
    );
    expect((await call(urlB, "DELETE", `/auth/sessions/${target?.id}`, other)).status).toBe(204);

    expect((await hold.release()).status).toBe(403);
    await expectGone(held, other);
    expect(await statusWith(urlA, other)).toBe(200);
  });

  it("revoked by 'sign out other devices'", async () => {
    const { email, cookie: held, userId } = await register();
    const other = await login(urlB, email);
    const hold = await holdRequest(held, userId);
    expect((await call(urlB, "POST", "/auth/sessions/revoke-others", other)).status).toBe(204);
    expect((await hold.release()).status).toBe(403);
    await expectGone(held, other);
  });

  it("logged out by a second request on the same session", async () => {
    const { cookie: held, userId } = await register();
    const hold = await holdRequest(held, userId);
    expect((await call(urlB, "POST", "/auth/logout", held)).status).toBe(204);
    expect((await hold.release()).status).toBe(403);
    await expectGone(held);
  });

  it("ended by a password change made from another session", async () => {
    const { email, cookie: held, userId } = await register();
    const other = await login(urlB, email);
    const hold = await holdRequest(held, userId);
    const changed = await call(urlB, "POST", "/auth/password", other, {
      currentPassword: PASSWORD,
      newPassword: "a brand new secret",
    });
    expect(changed.status).toBe(204);
    expect((await hold.release()).status).toBe(403);
    await expectGone(held, changed.cookie);
    await expectGone(other);
    expect(await statusWith(urlA, changed.cookie as string)).toBe(200);
  });
});

describe("credential epoch", () => {
  it("ends a session issued before a password change even where the index cannot reach it, on every instance", async () => {
    const { email, cookie: first, userId } = await register();
    const stray = await login(urlB, email);
    // Both instances hold the user (with its epoch) in their in-process cache.
    for (const base of [urlA, urlB])
      for (const c of [first, stray]) expect(await statusWith(base, c)).toBe(200);
    // A session the index does not know (as a login racing the change leaves it): revoke-others misses it.
    const indexBase = `${a.config.keyPrefix}:sess-index:{${userId}}`;
    await a.redis!.hdel(`${indexBase}:meta`, sessionIdOf(stray));
    await a.redis!.zrem(`${indexBase}:seen`, sessionIdOf(stray));

    const changed = await call(urlA, "POST", "/auth/password", first, {
      currentPassword: PASSWORD,
      newPassword: "a brand new secret",
    });
    expect(changed.status).toBe(204);
    expect(await a.redis!.exists(sessionKey(stray))).toBe(1); // nothing deleted it so far

    // Instance B learns the new epoch through the cache's invalidation, with no extra round trip.
    const refused = await call(urlB, "GET", "/auth/me", stray);
    expect(refused.status).toBe(401);
    await expectGone(stray); // and that request deleted it
    expect(await statusWith(urlB, changed.cookie as string)).toBe(200);
    // The new password logs in; the old one does not.
    expect((await call(urlB, "POST", "/auth/login", undefined, { email, password: PASSWORD })).status).toBe(
      401,
    );
    await login(urlB, email, "a brand new secret");
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)(
    "ends a login that verified the old password while the change was committing",
    async () => {
      const { email, cookie: changer, userId } = await register();
      // Hold the password change at its UPDATE with a row lock, so a login can run in the middle of it. The
      // lock an UPDATE itself takes (FOR NO KEY UPDATE): a login's session record, which references the
      // user, still gets its key-share lock, as it does beside a real change.
      const url = process.env.TEST_DATABASE_URL as string;
      const locker = new pg.Client({ connectionString: url });
      await locker.connect();
      try {
        await locker.query(`SET search_path TO "${database.env.DATABASE_SCHEMA}"`);
        await locker.query("BEGIN");
        await locker.query("SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE", [userId]);
        const change = call(urlA, "POST", "/auth/password", changer, {
          currentPassword: PASSWORD,
          newPassword: "a brand new secret",
        });
        await vi.waitFor(
          async () => {
            // Sessions waiting on the lock this client holds: the change's UPDATE.
            const { rows } = await locker.query(
              "SELECT count(*)::int AS n FROM pg_stat_activity WHERE pg_blocking_pids(pid) @> ARRAY[pg_backend_pid()]",
            );
            expect(rows[0].n).toBeGreaterThan(0);
          },
          { timeout: 5000, interval: 20 },
        );
        // The change has verified the current password and waits to write: this login checks the old one.
        const inFlight = await login(urlB, email);
        expect(await statusWith(urlB, inFlight)).toBe(200);
        await locker.query("COMMIT");
        const changed = await change;
        expect(changed.status, JSON.stringify(changed.json)).toBe(204);

        await expectGone(inFlight, changed.cookie);
        await expectGone(changer);
        expect(await statusWith(urlA, changed.cookie as string)).toBe(200);
      } finally {
        await locker.query("ROLLBACK").catch(() => undefined);
        await locker.end();
      }
    },
  );
});
