import type { SessionData } from "express-session";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { BoundedMemoryStore } from "../../../server/domain/session/memory-store.js";
import { testApp } from "../../helpers/fixtures.js";
import { sessionCookie, uniqueEmail } from "../../helpers/session.js";
import { sleep } from "../../helpers/sleep.js";

const session = (ms: number) =>
  ({ cookie: { expires: new Date(Date.now() + ms), originalMaxAge: ms } }) as unknown as SessionData;
const get = (store: BoundedMemoryStore, sid: string) =>
  new Promise<SessionData | null | undefined>((resolve) => store.get(sid, (_e, s) => resolve(s)));

describe("the embedded session store (no Redis configured)", () => {
  it("is bounded: the least recently used session goes first", async () => {
    const store = new BoundedMemoryStore({ max: 3, ttlSeconds: 60 });
    for (const sid of ["a", "b", "c"]) store.set(sid, session(60_000));
    await get(store, "a"); // a is now the most recent
    store.set("d", session(60_000));
    expect(await get(store, "b")).toBeNull();
    expect(await get(store, "a")).not.toBeNull();
    expect(await get(store, "d")).not.toBeNull();
  });

  it("expires sessions at their cookie expiry", async () => {
    const store = new BoundedMemoryStore({ max: 10, ttlSeconds: 60 });
    store.set("short", session(50));
    expect(store.has("short")).toBe(true); // a read would extend it, as the Redis store's does
    await sleep(120);
    expect(await get(store, "short")).toBeNull();
  });

  it("serves login sessions in an app without Redis", async () => {
    const t = await testApp({ redis: false });
    expect(t.redis).toBeUndefined();
    const reg = await request(t.app)
      .post("/auth/register")
      .send({ email: uniqueEmail("mem"), password: "password-123" });
    const cookie = sessionCookie(reg, t.config.session.cookieName)!;
    expect((await request(t.app).get("/auth/me").set("Cookie", cookie)).status).toBe(200);
    expect((await request(t.app).post("/auth/logout").set("Cookie", cookie)).status).toBe(204);
    expect((await request(t.app).get("/auth/me").set("Cookie", cookie)).status).toBe(401);
  });
});
