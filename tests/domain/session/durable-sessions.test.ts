import { createHash, createHmac, randomBytes } from "node:crypto";
import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { DurableSessions, RestoreStage } from "../../../server/domain/session/durable-sessions.js";
import type { SessionRedisStore } from "../../../server/domain/session/redis-store.js";
import type { Database } from "../../../server/infra/db/database.js";
import { redisKeys } from "../../../server/infra/redis/keys.js";
import type { Redis } from "../../../server/infra/redis/redis-client.js";
import type { TestApp } from "../../helpers/app.js";
import { TEST_SECRET } from "../../helpers/app.js";
import {
  login,
  registerUser,
  TEST_PASSWORD,
  testApp,
  testDatabase,
  testRedisClient,
  waitUntil,
} from "../../helpers/fixtures.js";
import { sessionIdOf } from "../../helpers/session.js";

// A signed-in session has a durable record in the database: when Redis loses the session (evicted, flushed,
// restarted empty), its next request restores it; a revocation deletes the record first, so nothing it
// ended ever comes back, even with a restore in flight.

let db: Database;
let redis: Redis;
let t: TestApp;

const sessionKey = (app: TestApp, cookie: string) =>
  `${redisKeys(app.config.keyPrefix).sessions}${sessionIdOf(cookie)}`;
const keyHash = (cookie: string) => createHash("sha256").update(sessionIdOf(cookie)).digest("hex");
const durableOf = (app: TestApp) => (app.services.store as SessionRedisStore).durable as DurableSessions;
const me = (app: TestApp, cookie: string) => request(app.app).get("/auth/me").set("Cookie", cookie);
const recordCount = async (cookie: string) =>
  (await db.query("SELECT 1 FROM session_records WHERE key_hash = $1", [keyHash(cookie)])).rows.length;

beforeAll(async () => {
  db = (await testDatabase()).db;
  redis = await testRedisClient();
  t = await testApp({ db });
});

describe("a session Redis lost", () => {
  it("is restored from its record on the next request, with its remaining lifetime, and listed again", async () => {
    const { cookie, email, res: registered } = await registerUser(t);
    expect(await recordCount(cookie)).toBe(1);
    const before = durableOf(t).stats().restores;

    // As a flush: the session and its user's index are gone.
    const index = redisKeys(t.config.keyPrefix).sessionIndex(registered.body.user.id);
    await redis.del(sessionKey(t, cookie), index.meta, index.seen);
    const res = await me(t, cookie);
    expect(res.status).toBe(200);
    expect(res.body.user.email).toBe(email);
    expect(durableOf(t).stats().restores).toBe(before + 1);
    expect(await t.services.metrics.render()).toMatch(/^session_restores_total [1-9]\d*$/m);
    const ttl = await redis.pttl(sessionKey(t, cookie));
    expect(ttl).toBeGreaterThan((t.config.session.ttlSeconds - 60) * 1000);
    const list = await request(t.app).get("/auth/sessions").set("Cookie", cookie);
    expect(list.status).toBe(200);
    expect(list.body.sessions.some((s: { current: boolean }) => s.current)).toBe(true);
  });

  it("is keyed by a hash of the session id: the id itself is stored nowhere in the database", async () => {
    const { cookie, res } = await registerUser(t);
    const userId = res.body.user.id as string;
    const { rows } = await db.query<Record<string, unknown>>(
      "SELECT * FROM session_records WHERE user_id = $1",
      [userId],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.key_hash).toBe(keyHash(cookie));
    expect(JSON.stringify(rows)).not.toContain(sessionIdOf(cookie));
    expect(rows[0]).toMatchObject({ amr: ["pwd"], credential_epoch: 0 });
  });

  it("stays ended when it expired, its user was disabled or the password changed", async () => {
    const expired = await registerUser(t);
    await db.query(
      "UPDATE session_records SET idle_expires_at = now() - interval '1 second' WHERE key_hash = $1",
      [keyHash(expired.cookie)],
    );
    const disabled = await registerUser(t);
    await db.query("UPDATE users SET disabled_at = now() WHERE id = $1", [disabled.res.body.user.id]);
    const changed = await registerUser(t);
    await db.query("UPDATE users SET credential_epoch = credential_epoch + 1 WHERE id = $1", [
      changed.res.body.user.id,
    ]);

    const misses = durableOf(t).stats().misses;
    for (const { cookie } of [expired, disabled, changed]) {
      await redis.del(sessionKey(t, cookie));
      expect((await me(t, cookie)).status).toBe(401);
      expect(await redis.exists(sessionKey(t, cookie))).toBe(0);
      await waitUntil(async () => (await recordCount(cookie)) === 0);
    }
    expect(durableOf(t).stats().misses).toBe(misses + 3);
  });

  it("is not restored after logout, revocation or sign-out everywhere", async () => {
    const a = await registerUser(t);
    const b = await login(t, a.email);
    const c = await login(t, a.email);
    const d = await login(t, a.email);

    expect((await request(t.app).post("/auth/logout").set("Cookie", a.cookie)).status).toBeLessThan(300);
    expect(await recordCount(a.cookie)).toBe(0);

    // The index lost every entry (as a flush would): sign-out everywhere still ends c and d through their
    // records.
    const index = redisKeys(t.config.keyPrefix).sessionIndex(a.res.body.user.id);
    await redis.del(sessionKey(t, d.cookie), index.meta, index.seen);
    expect((await request(t.app).post("/auth/sessions/revoke-others").set("Cookie", b.cookie)).status).toBe(
      204,
    );

    for (const { cookie } of [a, c, d]) {
      await redis.del(sessionKey(t, cookie));
      expect((await me(t, cookie)).status).toBe(401);
      expect(await recordCount(cookie)).toBe(0);
    }
    expect((await me(t, b.cookie)).status).toBe(200);
  });
});

describe("a restore racing a revocation", () => {
  for (const stage of ["read", "written"] as RestoreStage[]) {
    it(`never brings the session back (restore held after it ${stage} the record)`, async () => {
      let held: string | undefined;
      let arrived: () => void = () => undefined;
      let release: () => void = () => undefined;
      const arrival = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const app = await testApp({
        db,
        restoreHold: async (at, sid) => {
          if (at !== stage || sid !== held) return;
          arrived();
          await gate;
        },
      });
      const victim = await registerUser(app);
      const other = await login(app, victim.email);
      held = sessionIdOf(victim.cookie);
      await redis.del(sessionKey(app, victim.cookie));

      const inFlight = me(app, victim.cookie).then((r) => r.status);
      await arrival;
      const revoked = await request(app.app).post("/auth/sessions/revoke-others").set("Cookie", other.cookie);
      expect(revoked.status).toBe(204);
      release();

      expect(await inFlight).toBe(401);
      expect(await redis.exists(sessionKey(app, victim.cookie))).toBe(0);
      expect((await me(app, victim.cookie)).status).toBe(401);
      expect(await recordCount(victim.cookie)).toBe(0);
    });
  }
});

describe("what reaches the database", () => {
  it("a flood of forged or unsigned cookies causes no query; an unknown signed id one query at most", async () => {
    let queries = 0;
    const counting: Database = {
      ...db,
      query: (sql, params) => {
        queries++;
        return db.query(sql, params);
      },
    };
    const app = await testApp({ db: counting });
    const name = app.config.session.cookieName;
    const forged = Array.from({ length: 200 }, (_, i) => {
      const id = randomBytes(24).toString("base64url");
      const value = i % 2 ? `s:${id}.${randomBytes(32).toString("base64url")}` : id;
      return `${name}=${encodeURIComponent(value)}`;
    });
    await Promise.all(forged.map((cookie) => me(app, cookie).expect(401)));
    expect(queries).toBe(0);

    const id = randomBytes(24).toString("base64url");
    const signature = createHmac("sha256", TEST_SECRET).update(id).digest("base64").replace(/=+$/, "");
    const signed = `${name}=${encodeURIComponent(`s:${id}.${signature}`)}`;
    for (let i = 0; i < 20; i++) await me(app, signed).expect(401);
    expect(queries).toBe(1);
  });

  it("an authenticated request writes nothing to the database", async () => {
    let writes = 0;
    const counting: Database = {
      ...db,
      query: (sql, params) => {
        if (/^\s*(INSERT|UPDATE|DELETE|WITH)/i.test(sql) && sql.includes("session_records")) writes++;
        return db.query(sql, params);
      },
    };
    const app = await testApp({ db: counting });
    const { cookie } = await registerUser(app);
    const after = writes;
    for (let i = 0; i < 30; i++) expect((await me(app, cookie)).status).toBe(200);
    expect(writes).toBe(after);
  });
});

describe("the upgrade and the switch", () => {
  it("a session from before the upgrade gets its record on its next request", async () => {
    const env = { KEY_PREFIX: `up${randomBytes(4).toString("hex")}` };
    const before = await testApp({ db, env: { ...env, SESSION_DURABLE: "off" } });
    const { cookie } = await registerUser(before);
    expect(await recordCount(cookie)).toBe(0);

    const after = await testApp({ db, env });
    expect((await me(after, cookie)).status).toBe(200);
    await waitUntil(async () => (await recordCount(cookie)) === 1);
    await redis.del(sessionKey(after, cookie));
    expect((await me(after, cookie)).status).toBe(200);
  });

  it("SESSION_DURABLE=off keeps sessions in Redis only", async () => {
    const app = await testApp({ db, env: { SESSION_DURABLE: "off" } });
    const { cookie, email } = await registerUser(app);
    expect(await recordCount(cookie)).toBe(0);
    await login(app, email, { password: TEST_PASSWORD });
    await redis.del(sessionKey(app, cookie));
    expect((await me(app, cookie)).status).toBe(401);
  });
});
