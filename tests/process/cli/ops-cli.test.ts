import { generate } from "otplib";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp, testEnv } from "../../helpers/app.js";
import type { TestDatabase } from "../../helpers/database.js";
import { sharedRedis, testDatabase } from "../../helpers/fixtures.js";
import { runProcess } from "../../helpers/processes.js";
import { uniqueEmail } from "../../helpers/session.js";

const PASSWORD = "password-123";
let database: TestDatabase;
let t: TestApp;
let env: Record<string, string | undefined>;

async function ops(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await runProcess(
    "server/process/cli/ops.ts",
    { PATH: process.env.PATH, ...env },
    {
      args,
      defaults: false,
      timeoutMs: 30_000,
    },
  );
  return { code: code ?? 1, stdout, stderr };
}

async function signedIn(email: string) {
  const agent = request.agent(t.app);
  const res = await agent.post("/auth/login").send({ email, password: PASSWORD });
  expect(res.status).toBe(200);
  return agent;
}

// The commands work on the shared PostgreSQL and Redis a deployment has; the embedded database is refused.
describe.skipIf(!process.env.TEST_DATABASE_URL)("operator commands", () => {
  beforeAll(async () => {
    const redisUrl = (await sharedRedis()).url;
    database = await testDatabase();
    t = await buildTestApp({ db: database.db, env: { REDIS_URL: redisUrl } });
    env = {
      ...testEnv({ REDIS_URL: redisUrl, LOG_LEVEL: "warn", ...database.env }),
      KEY_PREFIX: t.config.keyPrefix,
      SESSION_SECRET: t.config.session.secrets[0],
    };
  });

  afterAll(async () => {
    await t?.close();
  });

  it("lists a user's sessions and revokes one, then all", async () => {
    const email = uniqueEmail("ops");
    expect((await request(t.app).post("/auth/register").send({ email, password: PASSWORD })).status).toBe(
      201,
    );
    const laptop = await signedIn(email);
    const phone = await signedIn(email);

    const list = await ops("sessions", "list", "--user", email.toUpperCase());
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout);
    expect(listed.user).toBe(email);
    expect(listed.sessions).toHaveLength(3); // registration, laptop, phone

    const laptopId = (await laptop.get("/auth/sessions")).body.sessions.find(
      (s: { current: boolean }) => s.current,
    ).id;
    const one = await ops("sessions", "revoke", "--user", email, "--id", laptopId);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toEqual({ user: email, revoked: 1 });
    expect((await laptop.get("/auth/me")).status).toBe(401);
    expect((await phone.get("/auth/me")).status).toBe(200);

    const all = await ops("sessions", "revoke", "--user", email);
    expect(JSON.parse(all.stdout)).toEqual({ user: email, revoked: 2 });
    expect((await phone.get("/auth/me")).status).toBe(401);
  });

  it("disables a user (no login, sessions ended) and enables them again", async () => {
    const email = uniqueEmail("ops");
    await request(t.app).post("/auth/register").send({ email, password: PASSWORD });
    const browser = await signedIn(email);
    expect((await browser.get("/auth/me")).status).toBe(200);

    const disabled = await ops("users", "disable", email);
    expect(disabled.code).toBe(0);
    expect(JSON.parse(disabled.stdout)).toEqual({ user: email, disabled: true, sessions_revoked: 2 });
    expect((await browser.get("/auth/me")).status).toBe(401);
    // The owner (with the right password) is told; a wrong password stays 401 (tests/http/admin-api.test.ts).
    const refused = await request(t.app).post("/auth/login").send({ email, password: PASSWORD });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("account_disabled");

    const enabled = await ops("users", "enable", email);
    expect(JSON.parse(enabled.stdout)).toEqual({ user: email, disabled: false, sessions_revoked: 0 });
    await signedIn(email);
  });

  it("clears an account lockout", async () => {
    const email = uniqueEmail("ops");
    await request(t.app).post("/auth/register").send({ email, password: PASSWORD });
    const limit = t.config.rateLimit.loginAccount.limit;
    for (let i = 0; i < limit; i++) {
      await request(t.app).post("/auth/login").send({ email, password: "wrong-password" });
    }
    expect((await request(t.app).post("/auth/login").send({ email, password: PASSWORD })).status).toBe(429);

    const cleared = await ops("lockout", "clear", email);
    expect(cleared.code).toBe(0);
    expect(JSON.parse(cleared.stdout)).toEqual({ email, lockout: "cleared" });
    await signedIn(email);
  });

  it("adds a user to a group; the running instance sees it at once", async () => {
    const email = uniqueEmail("ops");
    await request(t.app).post("/auth/register").send({ email, password: PASSWORD });
    const agent = await signedIn(email);
    await agent.get("/auth/me").expect(200); // the user is now in the cache

    const added = await ops("users", "groups", email, "add", "ops");
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toEqual({ user: email, groups: ["ops"] });
    const verify = () => agent.get("/auth/verify").set("X-Forwarded-Host", "svc.example.net");
    expect((await verify()).headers["x-auth-groups"]).toBe("ops");
  });

  it("resets a user's second factors: the account signs in with its password again", async () => {
    const email = uniqueEmail("ops-mfa");
    const agent = request.agent(t.app);
    expect((await agent.post("/auth/register").send({ email, password: PASSWORD })).status).toBe(201);
    const setup = await agent.post("/auth/mfa/totp/setup").expect(200);
    await agent
      .post("/auth/mfa/totp/confirm")
      .send({ code: await generate({ secret: setup.body.secret }) })
      .expect(200);
    const before = await request(t.app).post("/auth/login").send({ email, password: PASSWORD });
    expect(before.body.mfaRequired).toBe(true);

    const reset = await ops("users", "mfa-reset", email);
    expect([reset.code, reset.stderr]).toEqual([0, ""]);
    expect(JSON.parse(reset.stdout)).toEqual({
      user: email,
      removed: { totp: true, passkeys: 0, recoveryCodesLeft: 10 },
    });
    expect((await agent.get("/auth/mfa").expect(200)).body).toMatchObject({
      totp: false,
      recoveryCodesLeft: 0,
    });
    const after = await request(t.app).post("/auth/login").send({ email, password: PASSWORD });
    expect([after.status, after.body.mfaRequired]).toEqual([200, undefined]);
  });

  it("answers usage errors with 2 and unknown users with 1, on stderr", async () => {
    const none = await ops();
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^usage:/);
    expect(none.stdout).toBe("");
    const missing = await ops("sessions", "list");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--user is required/);
    expect((await ops("users", "delete", "a@example.com")).code).toBe(2);
    const unknown = await ops("users", "disable", "nobody@example.com");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no user with email/);
    expect(unknown.stdout).toBe("");
  });
});
