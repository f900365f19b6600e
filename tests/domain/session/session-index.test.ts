import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemorySessionIndex } from "../../../server/domain/session/memory-session-index.js";
import { createRedisSessionIndex } from "../../../server/domain/session/redis-session-index.js";
import {
  PRUNE_GRACE_MS,
  publicSessionId,
  type SessionIndex,
} from "../../../server/domain/session/session-index.js";
import type { Redis } from "../../../server/infra/redis/redis-client.js";
import { type TestApp, uniquePrefix } from "../../helpers/app.js";
import { sharedRedisCluster, testApp, testRedisClient } from "../../helpers/fixtures.js";
import { sessionCookie, uniqueEmail } from "../../helpers/session.js";

let redis: Redis;
/** An app on the cluster; its client also serves the cluster backend of the contract suite. */
let onCluster: TestApp;

beforeAll(async () => {
  redis = await testRedisClient({ commandTimeoutMs: 2000 });
  onCluster = await testApp({ env: { REDIS_URL: sharedRedisCluster().url, REDIS_CLUSTER: "true" } });
});

afterAll(async () => {
  await onCluster?.close();
});

interface Backend {
  index: SessionIndex;
  /** Makes the session itself exist or vanish, as the session store would. */
  setAlive(sid: string, alive: boolean): Promise<void>;
}

function redisBackend(client: () => Redis): Backend {
  const prefix = uniquePrefix();
  const sessionKey = (sid: string) => `${prefix}:sess:${sid}`;
  return {
    index: createRedisSessionIndex({ redis: client(), keyPrefix: prefix, sessionKey, ttlSeconds: 3600 }),
    setAlive: async (sid, alive) => {
      if (alive) await client().set(sessionKey(sid), "{}", "EX", 60);
      else await client().del(sessionKey(sid));
    },
  };
}

const backends: Record<string, () => Backend> = {
  redis: () => redisBackend(() => redis),
  "redis cluster": () => redisBackend(() => onCluster.redis as Redis),
  memory: () => {
    const alive = new Set<string>();
    return {
      index: createMemorySessionIndex({
        exists: async (sid) => alive.has(sid),
        maxUsers: 100,
        ttlSeconds: 3600,
      }),
      setAlive: async (sid, on) => {
        if (on) alive.add(sid);
        else alive.delete(sid);
      },
    };
  },
};

const old = () => Date.now() - 10 * PRUNE_GRACE_MS;
const entry = (sid: string, createdAt = old()) => ({
  sid,
  createdAt,
  lastSeenAt: createdAt,
  ip: "10.0.0.1",
  userAgent: "UA",
});

describe.each(Object.keys(backends))("session index on %s", (name) => {
  const make = backends[name] as () => Backend;

  it("lists what was added, per user, with the latest activity", async () => {
    const { index, setAlive } = make();
    for (const sid of ["s1", "s2", "s3"]) await setAlive(sid, true);
    await index.add("u1", entry("s1"));
    await index.add("u1", entry("s2"));
    await index.add("u2", entry("s3"));
    const seen = Date.now();
    await index.touch("u1", "s2", seen);

    const listed = await index.list("u1");
    expect(listed.map((e) => e.sid).sort()).toEqual(["s1", "s2"]);
    expect(listed.find((e) => e.sid === "s2")).toMatchObject({
      lastSeenAt: seen,
      ip: "10.0.0.1",
      userAgent: "UA",
    });
    expect((await index.list("u2")).map((e) => e.sid)).toEqual(["s3"]);
    expect(await index.list("nobody")).toEqual([]);
  });

  it("prunes entries whose session is gone, but not ones just added", async () => {
    const { index, setAlive } = make();
    await setAlive("live", true);
    await index.add("u", entry("live"));
    await index.add("u", entry("expired"));
    await index.add("u", entry("fresh", Date.now())); // its session is written at the end of the request
    expect((await index.list("u")).map((e) => e.sid).sort()).toEqual(["fresh", "live"]);
    // Pruned for good: the session coming back does not bring the entry back.
    await setAlive("expired", true);
    expect((await index.list("u")).map((e) => e.sid).sort()).toEqual(["fresh", "live"]);
  });

  it("removes entries, and touching a removed entry does not bring it back", async () => {
    const { index, setAlive } = make();
    await setAlive("a", true);
    await setAlive("b", true);
    await index.add("u", entry("a"));
    await index.add("u", entry("b"));
    await index.remove("u", ["a"]);
    await index.touch("u", "a", Date.now());
    expect((await index.list("u")).map((e) => e.sid)).toEqual(["b"]);
    await index.remove("u", []);
    await index.remove("u", ["b"]);
    expect(await index.list("u")).toEqual([]);
  });
});

describe("on Redis Cluster", () => {
  it("lists and revokes sessions whose keys live on different masters", async () => {
    const { app, config } = onCluster;
    const email = uniqueEmail("cluster-index");
    const reg = await request(app).post("/auth/register").send({ email, password: "password-123" });
    const mine = sessionCookie(reg, config.session.cookieName)!;
    const others: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(app).post("/auth/login").send({ email, password: "password-123" });
      others.push(sessionCookie(res, config.session.cookieName)!);
    }
    const listed = await request(app).get("/auth/sessions").set("Cookie", mine);
    expect(listed.body.sessions).toHaveLength(5);

    expect((await request(app).post("/auth/sessions/revoke-others").set("Cookie", mine)).status).toBe(204);
    for (const cookie of others)
      expect((await request(app).get("/auth/me").set("Cookie", cookie)).status).toBe(401);
    expect((await request(app).get("/auth/sessions").set("Cookie", mine)).body.sessions).toHaveLength(1);
  });
});

describe("Redis index keys", () => {
  it("share one hash tag per user, carry the prefix and expire", async () => {
    const prefix = uniquePrefix();
    const index = createRedisSessionIndex({
      redis,
      keyPrefix: prefix,
      sessionKey: (sid) => `${prefix}:sess:${sid}`,
      ttlSeconds: 100,
    });
    await index.add("user-1", entry("s"));
    const meta = `${prefix}:sess-index:{user-1}:meta`;
    const seen = `${prefix}:sess-index:{user-1}:seen`;
    expect(await redis.exists(meta, seen)).toBe(2);
    // Redis Cluster hashes only the first {...}: both keys land in the slot of "user-1".
    for (const key of [meta, seen]) expect(/\{([^}]*)\}/.exec(key)?.[1]).toBe("user-1");
    for (const key of [meta, seen]) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(90_000);
      expect(ttl).toBeLessThanOrEqual(100_000);
    }
  });
});

describe("public session ids", () => {
  it("are stable per session, differ between sessions, and do not contain the sid", () => {
    const sid = "abcdefghijklmnopqrstuvwxyz012345";
    expect(publicSessionId(sid)).toBe(publicSessionId(sid));
    expect(publicSessionId(sid)).not.toBe(publicSessionId(`${sid}x`));
    expect(publicSessionId(sid)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(publicSessionId(sid)).not.toContain(sid.slice(0, 8));
  });
});
