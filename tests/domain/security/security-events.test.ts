import { generate } from "otplib";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { addressKey } from "../../../server/domain/ratelimit/client-key.js";
import { SECURITY_EVENTS } from "../../../server/domain/security/events.js";
import {
  inlineMailWorker,
  login,
  privateRedisServer,
  registerUser,
  TEST_PASSWORD,
  testApp,
  testRedisClient,
} from "../../helpers/fixtures.js";
import { capturingLogger } from "../../helpers/logger.js";
import { commandCalls, commandDiff } from "../../helpers/redis-stats.js";
import { sessionCookie, sessionIdOf, uniqueEmail } from "../../helpers/session.js";
import { startSmtpServer } from "../../helpers/smtp.js";
import { softAuthenticator } from "../../helpers/soft-authenticator.js";

const ADMIN_KEY = "security-events-admin-key-0123";
const UA =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36";

interface EventLine {
  msg: string;
  event: string;
  userId?: string;
  emailHash?: string;
  ip?: string;
  device?: string;
  reqId?: string;
  policy?: string;
  count?: number;
  tokenId?: string;
  time: string;
}

function securityLines(lines: string[]): EventLine[] {
  return lines.map((l) => JSON.parse(l) as EventLine).filter((l) => l.msg === "security event");
}

describe("security event log", () => {
  it("logs each event once with who, where and which request, stores the user's own and never a secret", async () => {
    const capture = capturingLogger("info");
    const smtp = await startSmtpServer();
    const t = await testApp({
      logger: capture.logger,
      env: {
        LOG_LEVEL: "info",
        RATE_LIMIT_LOGIN_ACCOUNT_LIMIT: "2",
        RATE_LIMIT_LOGIN_LIMIT: "40", // the per-address budget of this file's many sign-ins
        RATE_LIMIT_API_LIMIT: "1",
        SMTP_URL: smtp.url,
        PUBLIC_URL: "https://auth.example.test",
        EMAIL_VERIFICATION: "off",
        ADMIN_API_KEY: ADMIN_KEY,
      },
      factories: inlineMailWorker,
    });
    const events = t.services.events;
    const headers = { "user-agent": UA };
    const owner = await registerUser(t, { headers });
    const userId = (owner.res.body as { user: { id: string } }).user.id;

    // A wrong password, then the account is locked (limit 2: the third attempt is refused unchecked).
    for (let i = 0; i < 2; i++) {
      await request(t.app)
        .post("/auth/login")
        .set(headers)
        .send({ email: owner.email, password: "wrong password!" })
        .expect(401);
    }
    const locked = await request(t.app)
      .post("/auth/login")
      .set(headers)
      .send({ email: owner.email.toUpperCase(), password: TEST_PASSWORD });
    expect(locked.status).toBe(429);
    await events.settled();
    await t.services.limits.loginAccount.clear(owner.email);
    const second = await login(t, owner.email, { headers });

    // An unknown account: logged under a keyed hash only, stored nowhere.
    const stranger = uniqueEmail("nobody");
    await request(t.app).post("/auth/login").send({ email: stranger, password: "whatever123" }).expect(401);

    await request(t.app)
      .post("/auth/logout")
      .set("Cookie", owner.cookie)
      .set("Origin", "https://evil.example")
      .expect(403);
    // The API limit (1 per window) refuses the second call.
    await request(t.app).get("/api/profile").set("Cookie", second.cookie);
    await request(t.app).get("/api/profile").set("Cookie", second.cookie).expect(429);

    const sessions = await request(t.app).get("/auth/sessions").set("Cookie", second.cookie).expect(200);
    const other = (sessions.body.sessions as Array<{ id: string; current: boolean }>).find((s) => !s.current);
    await request(t.app).delete(`/auth/sessions/${other?.id}`).set("Cookie", second.cookie).expect(204);
    const third = await login(t, owner.email, { headers });
    await request(t.app)
      .post("/auth/reauthenticate")
      .set("Cookie", second.cookie)
      .send({ password: TEST_PASSWORD })
      .expect(204);
    await request(t.app)
      .post("/auth/sessions/revoke-others")
      .set("Cookie", second.cookie)
      .send({})
      .expect(204);
    await request(t.app)
      .post("/auth/password")
      .set("Cookie", second.cookie)
      .send({ currentPassword: TEST_PASSWORD, newPassword: "a new password 2" })
      .expect(204);
    // A reset through the mailed link.
    await request(t.app).post("/auth/password/forgot").set(headers).send({ email: owner.email }).expect(202);
    const link = (await smtp.waitFor(owner.email)).links[0] as string;
    const token = new URL(link).searchParams.get("token");
    await request(t.app)
      .post("/auth/password/reset")
      .set(headers)
      .send({ token, newPassword: "a new password 3" })
      .expect(204);
    const after = await login(t, owner.email, { headers, password: "a new password 3" });
    await request(t.app).post("/auth/logout").set("Cookie", after.cookie).expect(204);

    // Second factors: turned on, a wrong code, a recovery code, new codes, turned off.
    const mfaUser = await registerUser(t, { headers });
    const agent = (method: "post" | "delete", path: string, cookie: string) =>
      request(t.app)[method](path).set(headers).set("Cookie", cookie);
    const setup = await agent("post", "/auth/mfa/totp/setup", mfaUser.cookie).expect(200);
    const confirmed = await agent("post", "/auth/mfa/totp/confirm", mfaUser.cookie)
      .send({ code: await generate({ secret: setup.body.secret }) })
      .expect(200);
    const pending = await request(t.app)
      .post("/auth/login")
      .set(headers)
      .send({ email: mfaUser.email, password: TEST_PASSWORD });
    const pendingCookie = sessionCookie(pending, t.config.session.cookieName) as string;
    await agent("post", "/auth/mfa/verify", pendingCookie).send({ code: "000000" }).expect(401);
    await agent("post", "/auth/mfa/verify", pendingCookie)
      .send({ recoveryCode: confirmed.body.recoveryCodes[0] })
      .expect(200);
    await agent("post", "/auth/mfa/recovery-codes", mfaUser.cookie).expect(200);
    await agent("delete", "/auth/mfa/totp", mfaUser.cookie).expect(204);
    const url = new URL(t.config.mail.publicUrl);
    const authenticator = softAuthenticator({ origin: url.origin, rpId: url.hostname });
    const creation = await agent("post", "/auth/passkeys/register/options", mfaUser.cookie).expect(200);
    const passkey = await agent("post", "/auth/passkeys/register", mfaUser.cookie)
      .send({ response: authenticator.create(creation.body), name: "Phone" })
      .expect(201);
    await agent("delete", `/auth/passkeys/${passkey.body.passkey.id}`, mfaUser.cookie).expect(204);
    // An operator removes what factors are left (the owner lost them).
    const mfaUserId = (mfaUser.res.body as { user: { id: string } }).user.id;
    await request(t.app)
      .post(`/admin/api/users/${mfaUserId}/second-factors/reset`)
      .set(headers)
      .set("Authorization", `Bearer ${ADMIN_KEY}`)
      .expect(200);
    // A personal access token made and revoked: its id in the line and the owner's list, never the token.
    const tokenOwner = await registerUser(t, { headers });
    const made = await agent("post", "/auth/tokens", tokenOwner.cookie)
      .send({ name: "CI", scopes: [], expiresInDays: 1 })
      .expect(201);
    await agent("delete", `/auth/tokens/${made.body.id}`, tokenOwner.cookie).expect(204);
    await events.settled();
    const tokenActivity = await request(t.app).get("/auth/activity").set("Cookie", tokenOwner.cookie);
    expect((tokenActivity.body.events as Array<{ event: string }>).map((e) => e.event)).toEqual([
      "personal_token_revoked",
      "personal_token_created",
    ]);
    const accountPage = await request(t.app).get("/account").set("Cookie", tokenOwner.cookie).expect(200);
    expect(accountPage.text).toContain("Personal access token revoked");
    expect(accountPage.text).toContain("Personal access token created");
    const metrics = await t.services.metrics.render();
    expect(metrics).toMatch(/security_events_total\{event="personal_token_created"\} 1/);
    expect(metrics).toMatch(/security_events_total\{event="personal_token_revoked"\} 1/);
    // An email change: asked for (step-up: a fresh sign-in), then the link mailed to the new address used.
    const mover = await registerUser(t, { headers });
    const moved = uniqueEmail("moved");
    await agent("post", "/auth/email", mover.cookie).send({ email: moved }).expect(202);
    const moveLink = (await smtp.waitFor(moved)).links[0] as string;
    const moveToken = new URL(moveLink).searchParams.get("token") as string;
    await request(t.app).post("/auth/email/change").set(headers).send({ token: moveToken }).expect(204);
    // Leaving: the data downloaded, an admin's action on the account, the account deleted.
    const leaver = await registerUser(t, { headers });
    const leaverId = (leaver.res.body as { user: { id: string } }).user.id;
    await request(t.app).get("/auth/account/export").set("Cookie", leaver.cookie).expect(200);
    const admin = (action: "disable" | "enable") =>
      request(t.app)
        .post(`/admin/api/users/${leaverId}/${action}`)
        .set(headers)
        .set("Authorization", `Bearer ${ADMIN_KEY}`);
    await admin("disable").expect(200);
    await request(t.app)
      .post("/auth/login")
      .set(headers)
      .send({ email: leaver.email, password: TEST_PASSWORD })
      .expect(403);
    await admin("enable").expect(204);
    const back = await login(t, leaver.email, { headers });
    await request(t.app).delete("/auth/account").set("Cookie", back.cookie).expect(200);
    await events.settled();

    const lines = securityLines(capture.lines);
    const names = lines.map((l) => l.event);
    expect(names.filter((n) => n === "login_failed")).toHaveLength(3); // two wrong, one unknown account
    // Provider sign-ins and links need an OpenID Provider: tests/http/oauth-sign-in.test.ts covers them.
    for (const name of SECURITY_EVENTS.filter((n) => !n.startsWith("identity_")))
      expect(names, name).toContain(name);
    expect(names.filter((n) => n === "login_locked")).toHaveLength(1);
    expect(names.filter((n) => n === "csrf_refused")).toHaveLength(1);
    expect(names.filter((n) => n === "password_changed")).toHaveLength(1);
    expect(names.filter((n) => n === "password_reset")).toHaveLength(1);
    expect(names.filter((n) => n === "email_change_requested")).toHaveLength(1);
    expect(names.filter((n) => n === "email_changed")).toHaveLength(1);
    expect(capture.text()).not.toContain(token);
    expect(capture.text()).not.toContain(made.body.token);
    expect(capture.text()).not.toContain(moveToken);
    for (const name of ["personal_token_created", "personal_token_revoked"])
      expect(lines.find((l) => l.event === name)).toMatchObject({ tokenId: made.body.id });
    expect(names.filter((n) => n === "other_sessions_revoked")).toHaveLength(1);
    expect(names.filter((n) => n === "session_revoked")).toHaveLength(1);
    expect(lines.find((l) => l.event === "rate_limited")?.policy).toBe("api");

    // Every line: time, event, client address, device hint, the request id the request line carries.
    const requestIds = new Set(
      capture.lines
        .map((l) => JSON.parse(l) as { msg: string; reqId?: string })
        .filter((l) => l.msg === "request")
        .map((l) => l.reqId),
    );
    for (const line of lines) {
      expect(line.time).toBeTruthy();
      expect(line.ip, line.event).toMatch(/127\.0\.0\.1/);
      expect(line.device, line.event).toBeTruthy();
      expect(requestIds.has(line.reqId), line.event).toBe(true);
    }
    const failed = lines.filter((l) => l.event === "login_failed");
    expect(failed.filter((l) => l.userId === userId)).toHaveLength(2);
    const unknown = failed.find((l) => l.userId === undefined);
    expect(unknown?.emailHash).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(lines.find((l) => l.event === "login_locked")).toMatchObject({
      userId,
      device: "Chrome on Linux",
    });
    expect(lines.find((l) => l.event === "other_sessions_revoked")?.count).toBe(1);

    // No password, email, session id or cookie in any security line.
    const text = JSON.stringify(lines);
    for (const secret of [
      TEST_PASSWORD,
      "wrong password!",
      "a new password 2",
      "a new password 3",
      "whatever123",
    ])
      expect(text).not.toContain(secret);
    for (const email of [owner.email, stranger, owner.email.split("@")[0] as string])
      expect(text.toLowerCase()).not.toContain(email.toLowerCase());
    for (const cookie of [owner.cookie, second.cookie, third.cookie, after.cookie])
      expect(text).not.toContain(sessionIdOf(cookie));

    // The user sees their own events, newest first; the stranger's attempt is nobody's.
    const mine = await login(t, owner.email, { headers, password: "a new password 3" });
    await events.settled();
    const activity = await request(t.app).get("/auth/activity").set("Cookie", mine.cookie).expect(200);
    const listed = activity.body.events as Array<{ event: string; at: string; ip: string; device: string }>;
    expect(listed[0]?.event).toBe("login_succeeded");
    expect(listed.map((e) => e.at)).toEqual([...listed.map((e) => e.at)].sort().reverse());
    expect(listed.map((e) => e.event)).toEqual(
      expect.arrayContaining([
        "login_failed",
        "login_locked",
        "lockout_cleared",
        "password_changed",
        "logged_out",
      ]),
    );
    expect(JSON.stringify(listed)).not.toContain("emailHash");
    // Two failures from one address within a minute are listed once (both logged); a 429 is only logged.
    expect(listed.filter((e) => e.event === "login_failed")).toHaveLength(1);
    expect(listed.map((e) => e.event)).not.toContain("rate_limited");
    await request(t.app).get("/auth/activity").expect(401);

    const page = await request(t.app).get("/account").set("Cookie", mine.cookie).expect(200);
    expect(page.text).toContain("Recent security activity");
    expect(page.text).toContain("Sign-in refused: too many attempts");

    expect(await t.services.metrics.render()).toMatch(/security_events_total\{event="login_failed"\} 3/);
  });

  it("records events of the HTML forms with the same fields", async () => {
    const capture = capturingLogger("info");
    const t = await testApp({ logger: capture.logger, env: { LOG_LEVEL: "info" } });
    const owner = await registerUser(t);
    const res = await request(t.app)
      .post("/login")
      .type("form")
      .set("user-agent", UA)
      .send({ email: owner.email, password: "wrong password!" });
    expect(res.status).toBe(401);
    await t.services.events.settled();
    const [line] = securityLines(capture.lines).filter((l) => l.event === "login_failed");
    expect(line).toMatchObject({ device: "Chrome on Linux", reqId: res.headers["x-request-id"] });
    expect(line?.ip).toMatch(/127\.0\.0\.1/);
    expect(line?.userId).toBe((owner.res.body as { user: { id: string } }).user.id);
  });

  it("keeps a bounded list per user in Redis, under a hash tag, with a TTL", async () => {
    const t = await testApp({ env: { SECURITY_EVENTS_PER_USER: "3", SECURITY_EVENTS_RETENTION_DAYS: "2" } });
    const owner = await registerUser(t);
    const userId = (owner.res.body as { user: { id: string } }).user.id;
    for (let i = 0; i < 5; i++) await login(t, owner.email);
    await t.services.events.settled();
    const redis = await testRedisClient();
    const key = `${t.config.keyPrefix}:sec-events:{${userId}}`;
    expect(await redis.llen(key)).toBe(3);
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(86_400);
    expect(ttl).toBeLessThanOrEqual(2 * 86_400);
    const activity = await request(t.app).get("/auth/activity").set("Cookie", owner.cookie);
    expect(activity.status).toBe(200);
    expect(activity.body.events).toHaveLength(3);
  });

  it("keeps the list in this process without Redis", async () => {
    const t = await testApp({ redis: false, env: { SECURITY_EVENTS_PER_USER: "2" } });
    const owner = await registerUser(t);
    const again = await login(t, owner.email);
    await request(t.app)
      .post("/auth/sessions/revoke-others")
      .set("Cookie", again.cookie)
      .send({})
      .expect(204);
    await t.services.events.settled();
    const activity = await request(t.app).get("/auth/activity").set("Cookie", again.cookie).expect(200);
    expect((activity.body.events as Array<{ event: string }>).map((e) => e.event)).toEqual([
      "other_sessions_revoked",
      "login_succeeded",
    ]);
  });

  it("a Redis failure while storing an event fails neither the request nor the log line", async () => {
    const capture = capturingLogger("info");
    const t = await testApp({ logger: capture.logger, env: { LOG_LEVEL: "info" } });
    const owner = await registerUser(t);
    const userId = (owner.res.body as { user: { id: string } }).user.id;
    const redis = await testRedisClient();
    // A key of the wrong type: LPUSH answers WRONGTYPE, a real Redis error on the store's own key.
    await redis.set(`${t.config.keyPrefix}:sec-events:{${userId}}`, "not a list");
    await login(t, owner.email);
    await t.services.events.settled();
    const lines = capture.lines.map((l) => JSON.parse(l) as { msg: string; event?: string });
    expect(lines.filter((l) => l.msg === "security event" && l.event === "login_succeeded")).toHaveLength(1);
    expect(lines.some((l) => l.msg === "could not store a security event")).toBe(true);
    expect(await t.services.metrics.render()).toMatch(/security_event_store_failures_total 1/);
  });
});

describe("page Content-Security-Policy", () => {
  it("allows only the app's own stylesheet, scripts and forms, no frames, no base", async () => {
    const t = await testApp();
    const res = await request(t.app).get("/login").expect(200);
    const csp = res.headers["content-security-policy"] as string;
    const directives = Object.fromEntries(
      csp.split(";").map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name, values.join(" ")];
      }),
    );
    expect(directives).toEqual({
      "default-src": "'none'",
      "style-src": "'self'",
      "img-src": "'self'",
      "script-src": "'self'",
      "connect-src": "'self'",
      "form-action": "'self'",
      "frame-ancestors": "'none'",
      "base-uri": "'none'",
    });
    // The icon is the app's own (a data: icon would be refused by img-src 'self').
    const icon = /<link rel="icon" href="([^"]+)"/.exec(res.text)?.[1] as string;
    expect(icon).toMatch(/^\/assets\/icon\.[0-9a-f]{12}\.svg$/);
    const served = await request(t.app).get(icon).expect(200);
    expect(served.headers["content-type"]).toMatch(/^image\/svg\+xml/);
    expect(served.headers["set-cookie"]).toBeUndefined();
  });
});

describe("health paths", () => {
  it("never run the session stack, unknown ones included (404)", async () => {
    const server = await privateRedisServer();
    const t = await testApp({ env: { REDIS_URL: `redis://127.0.0.1:${server.port}` } });
    const owner = await registerUser(t);
    const redis = await testRedisClient({ port: server.port });
    await request(t.app).get("/auth/me").set("Cookie", owner.cookie).expect(200);
    const before = await commandCalls(redis);
    const nope = await request(t.app).get("/health/nope").set("Cookie", owner.cookie);
    expect(nope.status).toBe(404);
    expect(nope.body.error.code).toBe("not_found");
    expect(nope.headers["set-cookie"]).toBeUndefined();
    await request(t.app).get("/health/live").set("Cookie", owner.cookie).expect(200);
    const { commands } = commandDiff(before, await commandCalls(redis));
    // Connection upkeep (the cache's subscriber, pings) may land in the window; nothing else may.
    for (const upkeep of ["subscribe", "ping", "client|setname", "client", "select", "hello"])
      delete commands[upkeep];
    // Zero session reads or touches, zero rate-limit checks.
    expect(commands).toEqual({});
  });
});

describe("client addresses", () => {
  it("strips ports and brackets; text that is not an address shares one bucket", () => {
    expect(addressKey("203.0.113.7:5678", 64)).toBe("203.0.113.7");
    expect(addressKey("[2001:db8:1:2::1]:443", 64)).toBe("2001:db8:1:2/64");
    expect(addressKey("[2001:db8:1:2::1]", 64)).toBe("2001:db8:1:2/64");
    expect(addressKey("[::ffff:203.0.113.7]:80", 64)).toBe("203.0.113.7");
    expect(addressKey("garbage", 64)).toBe("unknown");
    expect(addressKey("another-garbage", 64)).toBe("unknown");
    expect(addressKey("1.2.3.4:5:6", 64)).toBe("unknown");
    expect(addressKey("999.1.1.1", 64)).toBe("unknown");
    expect(addressKey("2001:db8::zz", 64)).toBe("unknown");
  });

  it("counts one client behind a proxy once, whatever port or form its address arrives in", async () => {
    const t = await testApp({ env: { TRUST_PROXY: "1", RATE_LIMIT_GLOBAL_LIMIT: "4" } });
    const statuses: number[] = [];
    for (const forwarded of [
      "198.51.100.9:1111",
      "198.51.100.9:2222",
      "198.51.100.9",
      "198.51.100.9:3333",
      "198.51.100.9:4444",
    ]) {
      statuses.push((await request(t.app).get("/login").set("X-Forwarded-For", forwarded)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429]);

    const junk: number[] = [];
    for (let i = 0; i < 5; i++)
      junk.push((await request(t.app).get("/login").set("X-Forwarded-For", `junk-${i}`)).status);
    expect(junk).toEqual([200, 200, 200, 200, 429]);

    const v6: number[] = [];
    for (const port of [1, 2, 3, 4, 5]) {
      v6.push((await request(t.app).get("/login").set("X-Forwarded-For", `[2001:db8:9::1]:${port}`)).status);
    }
    expect(v6).toEqual([200, 200, 200, 200, 429]);
  });
});
