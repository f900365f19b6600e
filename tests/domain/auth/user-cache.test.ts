import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { createGroupRepository } from "../../../server/domain/auth/groups.js";
import { createUserCache } from "../../../server/domain/auth/user-cache.js";
import { createUserRepository } from "../../../server/domain/auth/user-repository.js";
import type { TestApp } from "../../helpers/app.js";
import type { TestDatabase } from "../../helpers/database.js";
import { testApp, testDatabase } from "../../helpers/fixtures.js";

let database: TestDatabase;
let a: TestApp;
let b: TestApp;

beforeAll(async () => {
  database = await testDatabase();
  // Generous Redis budgets: on a busy test machine a slow reply must not look like an outage.
  const relaxed = {
    REDIS_COMMAND_TIMEOUT_MS: "5000",
    CACHE_L2_TIMEOUT_MS: "5000",
  };
  a = await testApp({ env: relaxed });
  // A second instance of the same deployment (shared Redis and prefix).
  b = await testApp({ env: { ...relaxed, KEY_PREFIX: a.config.keyPrefix } });
});

describe("passport's user lookup through the cache", () => {
  it("serves authenticated requests from the cache, stores no password hash, and drops the user on change", async () => {
    const email = `cached-${Date.now()}@example.com`;
    const reg = await request(a.app).post("/auth/register").send({ email, password: "correct horse" });
    const cookie = ([] as string[]).concat(reg.headers["set-cookie"] ?? [])[0]!.split(";")[0]!;
    const id = reg.body.user.id as string;

    for (const t of [a, b])
      expect((await request(t.app).get("/auth/me").set("Cookie", cookie)).body.user.email).toBe(email);
    expect(a.cache.stats().categories.users).toMatchObject({ loads: 1 });
    expect(b.cache.stats().categories.users).toMatchObject({ loads: 0, hitsL2: 1 });

    const stored = await a.redis!.get(a.cache.keys.value("users", 0, id));
    // Stored as `g<grace ms>:<json>`; Redis' own TTL says how long it stays fresh.
    expect(stored).toMatch(/^g\d+:\{/);
    expect(JSON.parse(stored!.slice(stored!.indexOf(":") + 1))).toEqual({
      id,
      email,
      createdAt: reg.body.user.createdAt,
      credentialEpoch: 0,
      emailVerified: false,
      groups: [],
    });
    const { rows } = await database.db.query<{ password_hash: string }>(
      "SELECT password_hash FROM users WHERE id = $1",
      [id],
    );
    expect(stored).not.toContain(rows[0]!.password_hash);
    expect(stored).not.toMatch(/password/i);

    // A change made behind the cache's back is not seen: the database is not asked on every request.
    const renamed = `renamed-${Date.now()}@example.com`;
    await database.db.query("UPDATE users SET email = $2 WHERE id = $1", [id, renamed]);
    expect((await request(b.app).get("/auth/me").set("Cookie", cookie)).body.user.email).toBe(email);

    // Changes made through the repository invalidate the entry on every instance: a password change
    // (same hash here) bumps the credential epoch, so the old session is refused on both instances.
    const users = createUserCache({
      cache: a.cache,
      users: createUserRepository(database.db),
      groups: createGroupRepository(database.db),
    });
    expect(await users.repository.updatePassword(id, rows[0]!.password_hash)).toBe(1);
    await expect
      .poll(async () => (await request(b.app).get("/auth/me").set("Cookie", cookie)).status, {
        timeout: 10_000,
      })
      .toBe(401);
    const relogin = await request(b.app)
      .post("/auth/login")
      .send({ email: renamed, password: "correct horse" });
    const fresh = ([] as string[]).concat(relogin.headers["set-cookie"] ?? [])[0]!.split(";")[0]!;
    expect((await request(b.app).get("/auth/me").set("Cookie", fresh)).body.user.email).toBe(renamed);
    expect((await request(a.app).get("/auth/me").set("Cookie", fresh)).body.user.email).toBe(renamed);

    // A deleted user is not kept alive by the cache once invalidated.
    await database.db.query("DELETE FROM users WHERE id = $1", [id]);
    await users.invalidateUser(id);
    await expect
      .poll(async () => (await request(b.app).get("/auth/me").set("Cookie", fresh)).status, {
        timeout: 10_000,
      })
      .toBe(401);
  });
});
