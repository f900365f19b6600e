import request from "supertest";
import { describe, expect, it } from "vitest";
import { BoundedMemoryStore } from "../../../server/domain/session/memory-store.js";
import { registerUser, testApp } from "../../helpers/fixtures.js";
import { sessionCookie, uniqueEmail } from "../../helpers/session.js";
import { sleep } from "../../helpers/sleep.js";

// The rolling cookie is re-sent only when the server extended the session: with a 2 s TTL and a touch
// fraction of 0.5, a session is extended (and the cookie re-sent) once more than 1 s of it has been used.
const TTL_S = 2;

function expiresOf(res: request.Response): number | undefined {
  const line = (res.headers["set-cookie"] as string[] | undefined)?.[0];
  const value = line ? /Expires=([^;]+)/.exec(line)?.[1] : undefined;
  return value ? Date.parse(value) : undefined;
}

describe.each([
  ["Redis", true],
  ["in-process", false],
] as const)("rolling cookie, %s store", (_name, withRedis) => {
  it("is not re-sent while the session is not extended, and is re-sent with the new expiry once it is", async () => {
    const t = await testApp({
      redis: withRedis,
      env: { SESSION_TTL_SECONDS: String(TTL_S), SESSION_TOUCH_FRACTION: "0.5" },
    });
    const { cookie } = await registerUser(t, { email: uniqueEmail("rolling") });
    const me = () => request(t.app).get("/auth/me").set("Cookie", cookie);

    const first = await me();
    const second = await me();
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(first.headers["set-cookie"]).toBeUndefined();
    expect(second.headers["set-cookie"]).toBeUndefined();

    await sleep(1200); // more than half of the TTL used
    const later = await me();
    expect(later.status).toBe(200);
    expect(sessionCookie(later, t.config.session.cookieName)).toBe(cookie);
    const expires = expiresOf(later);
    expect(expires).toBeDefined();
    // Expires has a resolution of one second.
    expect(Math.abs((expires as number) - (Date.now() + TTL_S * 1000))).toBeLessThanOrEqual(1500);
    const line = String((later.headers["set-cookie"] as unknown as string[])[0]);
    expect(line).toMatch(/HttpOnly/);
    expect(line).toMatch(/SameSite=Strict/);
    expect(line).toMatch(/Path=\//);

    // Extended: the next request is quiet again, and the session outlives its first TTL.
    const after = await me();
    expect(after.status).toBe(200);
    expect(after.headers["set-cookie"]).toBeUndefined();
    await sleep(1000); // 2.2 s since login: alive only because it was extended
    expect((await me()).status).toBe(200);
  });
});

describe("the in-process store's read-and-extend rule", () => {
  it("extends on a read only once the fraction is used, and says so", async () => {
    const store = new BoundedMemoryStore({ max: 10, ttlSeconds: 1, touchFraction: 0.5 });
    const data = { cookie: { originalMaxAge: 1000, expires: new Date(Date.now() + 1000) } };
    store.set("s", data as never);
    const read = () =>
      new Promise<object>((resolve) => store.get("s", (_err, sess) => resolve(sess as object)));
    expect(store.wasExtended(await read())).toBe(false);
    await sleep(600);
    expect(store.wasExtended(await read())).toBe(true);
    await sleep(600); // 1.2 s after it was written: alive because the read extended it
    expect(store.has("s")).toBe(true);
  });
});
