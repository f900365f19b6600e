import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../server/infra/db/database.js";
import { buildTestApp, type TestApp, uniquePrefix } from "../helpers/app.js";
import {
  ageAuthentication,
  closeAfterFile,
  registerUser,
  sharedRedis,
  TEST_PASSWORD,
  testDatabase,
  waitUntil,
} from "../helpers/fixtures.js";

// Two instances of one deployment, on a database that counts the queries each one makes.
let a: TestApp;
let b: TestApp;
let db: Database;
const queries = { a: 0, b: 0 };
const counting = (inner: Database, key: "a" | "b"): Database => ({
  ...inner,
  query: (sql, params) => {
    queries[key]++;
    return inner.query(sql, params);
  },
  transaction: (fn) => inner.transaction(fn),
  exec: (sql) => inner.exec(sql),
  close: async () => undefined,
});

beforeAll(async () => {
  db = (await testDatabase()).db;
  const env = {
    REDIS_URL: (await sharedRedis()).url,
    KEY_PREFIX: uniquePrefix(),
    RATE_LIMIT_LOGIN_LIMIT: "1000",
    TOKEN_SCOPES: "profile:read,deploy",
    CACHE_CATEGORIES: "profiles:60",
    FORWARD_AUTH_RULES: "*,*/deploy=scope:deploy",
    REAUTH_MAX_AGE_SECONDS: "300",
  };
  a = await buildTestApp({ db: counting(db, "a"), env });
  b = await buildTestApp({ db: counting(db, "b"), env });
  closeAfterFile(() => a.close());
  closeAfterFile(() => b.close());
});

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function createToken(cookie: string, body: Record<string, unknown>) {
  const res = await request(a.app).post("/auth/tokens").set("Cookie", cookie).send(body);
  expect(res.status).toBe(201);
  return res.body as { token: string; id: string; scopes: string[]; expiresAt: string };
}

describe("personal access tokens", () => {
  it("are created only after a recent authentication, shown once, stored as a hash and listed with their last use", async () => {
    const { cookie } = await registerUser(a);
    await ageAuthentication(a, cookie);
    const body = { name: "CI deploys", scopes: ["deploy"], expiresInDays: 30 };
    const stale = await request(a.app).post("/auth/tokens").set("Cookie", cookie).send(body);
    expect(stale.status).toBe(403);
    expect(stale.body.error.code).toBe("reauthentication_required");
    await request(a.app)
      .post("/auth/reauthenticate")
      .set("Cookie", cookie)
      .send({ password: TEST_PASSWORD })
      .expect(204);

    const unknown = await request(a.app)
      .post("/auth/tokens")
      .set("Cookie", cookie)
      .send({ ...body, scopes: ["admin"] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: "invalid_request", field: "scopes" });

    const created = await createToken(cookie, body);
    expect(created.token).toMatch(/^rss_pat_[A-Za-z0-9_-]{43}$/);
    expect(created.scopes).toEqual(["deploy"]);
    const rows = await db.query<Record<string, unknown>>("SELECT * FROM personal_tokens WHERE id = $1", [
      created.id,
    ]);
    expect(JSON.stringify(rows.rows)).not.toContain(created.token.slice(8));

    const listed = await request(a.app).get("/auth/tokens").set("Cookie", cookie);
    expect(listed.body.tokens).toEqual([
      expect.objectContaining({
        id: created.id,
        name: "CI deploys",
        lastUsedAt: null,
        endsWithPassword: true,
      }),
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(created.token);

    await request(b.app).get("/auth/me").set(bearer(created.token)).expect(200);
    await waitUntil(async () => {
      const res = await request(a.app).get("/auth/tokens").set("Cookie", cookie);
      return res.body.tokens[0].lastUsedAt !== null;
    });
    const first = (await request(a.app).get("/auth/tokens").set("Cookie", cookie)).body.tokens[0].lastUsedAt;
    await request(b.app).get("/auth/me").set(bearer(created.token)).expect(200);
    const second = (await request(a.app).get("/auth/tokens").set("Cookie", cookie)).body.tokens[0].lastUsedAt;
    expect(second).toBe(first); // written at most once a minute
  });

  it("reach a team route with the scope it asks for, cost no database query once cached, and never the account", async () => {
    const { cookie } = await registerUser(a);
    const reader = await createToken(cookie, { name: "reader", scopes: ["profile:read"], expiresInDays: 1 });
    const deployer = await createToken(cookie, { name: "deployer", scopes: ["deploy"], expiresInDays: 1 });

    const ok = await request(b.app).get("/api/echo-profile").set(bearer(reader.token));
    expect(ok.status).toBe(200);
    expect(ok.headers["set-cookie"]).toBeUndefined();
    const denied = await request(b.app).get("/api/echo-profile").set(bearer(deployer.token));
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: "insufficient_scope", scope: "profile:read" });
    expect(denied.headers["www-authenticate"]).toContain('error="insufficient_scope"');

    const before = queries.b;
    for (let i = 0; i < 5; i++)
      await request(b.app).get("/api/echo-profile").set(bearer(reader.token)).expect(200);
    expect(queries.b).toBe(before);

    for (const path of ["/auth/sessions", "/auth/tokens"]) {
      const res = await request(b.app).get(path).set(bearer(reader.token));
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("token_not_allowed");
    }
    const bothWays = await request(b.app)
      .get("/auth/me")
      .set({ ...bearer(reader.token), Cookie: cookie });
    expect(bothWays.body.error.code).toBe("credentials_conflict");
  });

  it("pass forward auth with their id and scopes, and a rule can require a scope", async () => {
    const { cookie } = await registerUser(a);
    const deployer = await createToken(cookie, { name: "deployer", scopes: ["deploy"], expiresInDays: 1 });
    const reader = await createToken(cookie, { name: "reader", scopes: ["profile:read"], expiresInDays: 1 });
    const verify = (token: string, uri: string) =>
      request(b.app)
        .get("/auth/verify")
        .set({ ...bearer(token), "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": uri });

    const passed = await verify(deployer.token, "/deploy/now");
    expect(passed.status).toBe(200);
    expect(passed.headers["x-auth-token-id"]).toBe(deployer.id);
    expect(passed.headers["x-auth-scopes"]).toBe("deploy");
    expect(passed.headers["x-auth-session-id"]).toBeUndefined();
    expect((await verify(reader.token, "/deploy/now")).status).toBe(403);
    expect((await verify(reader.token, "/elsewhere")).status).toBe(200);
    // A person signed in with a session passes a scope rule as its owner.
    const person = await request(b.app)
      .get("/auth/verify")
      .set({ Cookie: cookie, "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": "/deploy" });
    expect(person.status).toBe(200);
  });

  it("stop working on every instance within a second of being revoked, and at a password change when chosen", async () => {
    const { cookie } = await registerUser(a);
    const token = await createToken(cookie, { name: "t", scopes: [], expiresInDays: 1 });
    const kept = await createToken(cookie, {
      name: "k",
      scopes: [],
      expiresInDays: 1,
      endsWithPassword: false,
    });
    const ended = await createToken(cookie, { name: "e", scopes: [], expiresInDays: 1 });
    await request(b.app).get("/auth/me").set(bearer(token.token)).expect(200); // cached on b

    await request(a.app).delete(`/auth/tokens/${token.id}`).set("Cookie", cookie).expect(204);
    await waitUntil(
      async () => (await request(b.app).get("/auth/me").set(bearer(token.token))).status === 401,
      1000,
    );
    const gone = await request(b.app).get("/auth/me").set(bearer(token.token));
    expect(gone.body.error.code).toBe("invalid_authorization");
    await request(a.app).delete(`/auth/tokens/${token.id}`).set("Cookie", cookie).expect(404);

    await request(b.app).get("/auth/me").set(bearer(ended.token)).expect(200);
    const changed = await request(a.app)
      .post("/auth/password")
      .set("Cookie", cookie)
      .send({ currentPassword: TEST_PASSWORD, newPassword: "another horse battery staple" });
    expect(changed.status).toBe(204);
    await waitUntil(
      async () => (await request(b.app).get("/auth/me").set(bearer(ended.token))).status === 401,
      1000,
    );
    await request(b.app).get("/auth/me").set(bearer(kept.token)).expect(200);
  });
});

describe("the account page's tokens", () => {
  it("creates a token shown once, lists it with its scopes and revokes it", async () => {
    const { cookie } = await registerUser(a);
    const created = await request(a.app)
      .post("/account/tokens")
      .set("Cookie", cookie)
      .type("form")
      .send("name=laptop+script&scopes=deploy&scopes=profile%3Aread&expiresInDays=7&endsWithPassword=true");
    expect(created.status).toBe(201);
    const token = /<code id="new-token">(rss_pat_[^<]+)<\/code>/.exec(created.text)?.[1];
    expect(token).toBeDefined();
    await request(b.app).get("/api/echo-profile").set(bearer(token!)).expect(200);

    const page = await request(a.app).get("/account").set("Cookie", cookie);
    expect(page.text).toContain("laptop script");
    expect(page.text).toContain("deploy, profile:read");
    expect(page.text).not.toContain(token);
    const action = /action="(\/account\/tokens\/[^"]+\/revoke)"/.exec(page.text)?.[1];
    const revoked = await request(a.app).post(action!).set("Cookie", cookie).type("form").send("");
    expect(revoked.headers.location).toBe("/account?done=token");
    await waitUntil(
      async () => (await request(b.app).get("/auth/me").set(bearer(token!))).status === 401,
      1000,
    );
  });
});
