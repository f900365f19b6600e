import type { SessionData, Store } from "express-session";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BoundedMemoryStore } from "../../../server/domain/session/memory-store.js";
import { SessionRedisStore } from "../../../server/domain/session/redis-store.js";
import { uniquePrefix } from "../../helpers/app.js";
import { sharedRedis } from "../../helpers/fixtures.js";

// The write rule both session stores follow: a stored session is only updated while it exists, a new
// one only created, so nothing removed (revoked, logged out, expired) is ever written back.

let redis: Redis;

beforeAll(async () => {
  const { port, db } = await sharedRedis();
  redis = new Redis({ host: "127.0.0.1", port, db, lazyConnect: true, commandTimeout: 5000 });
  await redis.connect();
});

afterAll(() => {
  redis?.disconnect();
});

const data = (value: string) =>
  ({
    cookie: { expires: new Date(Date.now() + 60_000), originalMaxAge: 60_000 },
    value,
  }) as unknown as SessionData & { value: string };

const call = <T>(fn: (cb: (err?: unknown, value?: T | null) => void) => void) =>
  new Promise<T | null | undefined>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));

const backends: Array<[string, () => Store]> = [
  ["memory", () => new BoundedMemoryStore({ max: 100, ttlSeconds: 60 })],
  [
    "redis",
    () =>
      new SessionRedisStore({
        client: redis,
        prefix: `${uniquePrefix()}:sess:`,
        ttlSeconds: 60,
        touchFraction: 0.1,
      }),
  ],
];

describe.each(backends)("%s session store", (_name, make) => {
  const set = (store: Store, sid: string, sess: SessionData) => call<void>((cb) => store.set(sid, sess, cb));
  const get = async (store: Store, sid: string) =>
    (await call<SessionData>((cb) => store.get(sid, cb))) as (SessionData & { value: string }) | null;
  const destroy = (store: Store, sid: string) => call<void>((cb) => store.destroy(sid, cb));
  const load = async (store: Store, sid: string) =>
    (await call<SessionData>((cb) => store.load(sid, cb as never))) as SessionData & { value: string };

  it("creates a new session, then updates it while it exists", async () => {
    const store = make();
    const sess = data("first");
    await set(store, "s1", sess);
    expect((await get(store, "s1"))?.value).toBe("first");
    sess.value = "second"; // the same session object, saved again (passport saves at login, then the request)
    await set(store, "s1", sess);
    expect((await get(store, "s1"))?.value).toBe("second");
  });

  it("never overwrites an existing id with a new session", async () => {
    const store = make();
    await set(store, "s2", data("original"));
    await set(store, "s2", data("intruder"));
    expect((await get(store, "s2"))?.value).toBe("original");
  });

  it("updates a loaded session only while it still exists", async () => {
    const store = make();
    await set(store, "s3", data("v1"));
    const loaded = await load(store, "s3");
    loaded.value = "v2";
    await set(store, "s3", loaded);
    expect((await get(store, "s3"))?.value).toBe("v2");

    // Revoked while the request that loaded it was still running: its save must not bring it back.
    await destroy(store, "s3");
    loaded.value = "v3";
    await set(store, "s3", loaded);
    expect(await get(store, "s3")).toBeNull();
  });
});

describe("the Redis session store", () => {
  it("refuses the keyspace-scanning listings (wrong on Redis Cluster)", async () => {
    const store = new SessionRedisStore({
      client: redis,
      prefix: "x:sess:",
      ttlSeconds: 60,
      touchFraction: 0.1,
    });
    await expect(call<number>((cb) => store.length(cb as never))).rejects.toThrow(/per-user index/);
    await expect(call<string[]>((cb) => store.ids(cb as never))).rejects.toThrow(/per-user index/);
    await expect(call<void>((cb) => store.clear(cb as never))).rejects.toThrow(/per-user index/);
  });
});
