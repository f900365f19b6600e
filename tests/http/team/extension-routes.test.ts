import request from "supertest";
import { describe, expect, it } from "vitest";
import { PROFILE_CATEGORY } from "../../../server/http/team/echo-profile.js";
import { registerUser, testApp, testRedisClient } from "../../helpers/fixtures.js";

/** The example's cache category, declared as a deployment declares it. */
const PROFILES = `${PROFILE_CATEGORY}:60`;

describe("GET /api/echo-profile (the worked example of a team route)", () => {
  it("answers 401 without a login and the cached profile with one: MISS, then HIT from any instance", async () => {
    const a = await testApp({ env: { CACHE_CATEGORIES: PROFILES } });
    const anonymous = await request(a.app).get("/api/echo-profile");
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toEqual({ error: { code: "unauthenticated", message: expect.any(String) } });

    const { email, cookie } = await registerUser(a);
    const first = await request(a.app).get("/api/echo-profile").set("Cookie", cookie);
    expect(first.status).toBe(200);
    expect(first.headers["x-cache"]).toBe("MISS");
    expect(first.body.profile).toEqual({ id: expect.any(String), email, memberSince: expect.any(String) });
    expect(first.headers["cache-control"]).toBe("no-store");

    const again = await request(a.app).get("/api/echo-profile").set("Cookie", cookie);
    expect(again.headers["x-cache"]).toBe("HIT");
    expect(again.body).toEqual(first.body);

    // A second instance on the same Redis and KEY_PREFIX reads the value the first one stored.
    const b = await testApp({ env: { CACHE_CATEGORIES: PROFILES, KEY_PREFIX: a.config.keyPrefix } });
    const other = await request(b.app).get("/api/echo-profile").set("Cookie", cookie);
    expect(other.status).toBe(200);
    expect(other.headers["x-cache"]).toBe("HIT");
    expect(other.body).toEqual(first.body);
    const redis = await testRedisClient();
    const keys = await redis.keys(`${a.config.keyPrefix}:cache:${PROFILE_CATEGORY}:*:k:*`);
    expect(keys).toHaveLength(1);
  });

  it("sits behind the per-user API rate limit", async () => {
    const t = await testApp({ env: { CACHE_CATEGORIES: PROFILES, RATE_LIMIT_API_LIMIT: "2" } });
    const { cookie } = await registerUser(t);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await request(t.app).get("/api/echo-profile").set("Cookie", cookie)).status);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });

  it("is not mounted while its cache category is not declared", async () => {
    const t = await testApp();
    const { cookie } = await registerUser(t);
    const res = await request(t.app).get("/api/echo-profile").set("Cookie", cookie);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
  });
});
