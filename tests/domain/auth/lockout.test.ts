import type { AddressInfo } from "node:net";
import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { redisKeys } from "../../../server/infra/redis/keys.js";
import type { TestApp } from "../../helpers/app.js";
import {
  registerUser,
  TEST_PASSWORD,
  testApp,
  testDatabase,
  testRedisClient,
} from "../../helpers/fixtures.js";
import { sessionCookie, sessionIdOf, uniqueEmail } from "../../helpers/session.js";
import { sleep } from "../../helpers/sleep.js";

const DEVICE = "device"; // the default name without COOKIE_SECURE

let t: TestApp;

beforeAll(async () => {
  t = await testApp({
    env: {
      TRUST_PROXY: "1",
      // 5 failures per 30 s: one unit comes back every 6 s, so an attacker needs a guess every 6 s.
      RATE_LIMIT_LOGIN_ACCOUNT_LIMIT: "5",
      RATE_LIMIT_LOGIN_ACCOUNT_WINDOW_SECONDS: "30",
      RATE_LIMIT_LOGIN_DEVICE_LIMIT: "3",
      RATE_LIMIT_LOGIN_DEVICE_WINDOW_SECONDS: "30",
      // The owner logs in 30 times in a few seconds from one address and one known device.
      RATE_LIMIT_LOGIN_LIMIT: "50",
      RATE_LIMIT_LOGIN_KNOWN_DEVICE_LIMIT: "50",
    },
  });
});

const deviceCookie = (res: request.Response) => sessionCookie(res, DEVICE);

const attempt = (ip: string, email: string, password: string, cookie?: string) => {
  const req = request(t.app).post("/auth/login").set("X-Forwarded-For", ip);
  if (cookie) req.set("Cookie", cookie);
  return req.send({ email, password });
};

let addressCounter = 0;
const nextAddress = () => {
  addressCounter++;
  return `10.${(addressCounter >> 16) & 255}.${(addressCounter >> 8) & 255}.${addressCounter & 255}`;
};

describe("device cookies", () => {
  it("a login sets a signed HttpOnly SameSite device cookie", async () => {
    const user = await registerUser(t, { headers: { "X-Forwarded-For": "192.0.2.1" } });
    const line = ([] as string[])
      .concat(user.res.headers["set-cookie"] ?? [])
      .find((c) => c.startsWith(`${DEVICE}=`));
    expect(line).toMatch(/; HttpOnly/);
    expect(line).toMatch(/; SameSite=Strict/);
    expect(line).toMatch(/; Max-Age=7776000/); // 90 days
    expect(line).not.toContain(TEST_PASSWORD);
  });

  it("behind HTTPS with COOKIE_SECURE it is a Secure __Host- cookie, sent after the session cookie", async () => {
    const secure = await testApp({ env: { COOKIE_SECURE: "true", TRUST_PROXY: "1" } });
    const user = await registerUser(secure, { headers: { "X-Forwarded-Proto": "https" } });
    const cookies = ([] as string[]).concat(user.res.headers["set-cookie"] ?? []);
    expect(cookies[0]).toMatch(/^__Host-sid=/);
    expect(cookies[1]).toMatch(
      /^__Host-device=d1\.[^;]+; Max-Age=\d+; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Strict$/,
    );
  });

  it("an attacker from many addresses keeps the account locked for everyone else, never for the owner's browser", async () => {
    const email = uniqueEmail("owner");
    const owner = await registerUser(t, { email, headers: { "X-Forwarded-For": "192.0.2.10" } });
    let device = deviceCookie(owner.res) as string;
    expect(device).toBeDefined();

    const counts = {
      ownerOk: 0,
      ownerRefused: 0,
      attacker401: 0,
      attacker429: 0,
      strangerOk: 0,
      stranger429: 0,
    };
    for (let round = 0; round < 30; round++) {
      for (let guess = 0; guess < 3; guess++) {
        const res = await attempt(nextAddress(), email, `guess-${round}-${guess}`);
        if (res.status === 401) counts.attacker401++;
        else if (res.status === 429) counts.attacker429++;
        else throw new Error(`attacker got ${res.status}`);
      }
      // The owner's known browser, from home.
      const mine = await attempt("192.0.2.10", email, TEST_PASSWORD, device);
      if (mine.status === 200) {
        counts.ownerOk++;
        device = deviceCookie(mine) ?? device;
      } else {
        counts.ownerRefused++;
        console.log("owner refused:", mine.status, mine.body);
      }
      // The right password from a browser the account has never seen.
      if (round % 10 === 9) {
        const stranger = await attempt("198.51.100.9", email, TEST_PASSWORD);
        if (stranger.status === 200) counts.strangerOk++;
        else if (stranger.status === 429) counts.stranger429++;
      }
    }
    console.log("owner vs attacker:", JSON.stringify(counts));
    expect(counts.ownerOk).toBe(30);
    expect(counts.ownerRefused).toBe(0);
    expect(counts.attacker429).toBeGreaterThan(70); // locked for untrusted clients the whole time
    expect(counts.strangerOk).toBe(0);
  });

  it("failures from a known device count against that device only", async () => {
    const email = uniqueEmail("device");
    const owner = await registerUser(t, { email, headers: { "X-Forwarded-For": "192.0.2.20" } });
    const device = deviceCookie(owner.res) as string;
    for (let i = 0; i < 3; i++)
      expect((await attempt("192.0.2.20", email, "wrong", device)).status).toBe(401);
    const locked = await attempt("192.0.2.20", email, TEST_PASSWORD, device);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers["retry-after"])).toBeGreaterThan(0);
    // The account itself is not locked: another browser logs in.
    expect((await attempt("192.0.2.21", email, TEST_PASSWORD)).status).toBe(200);
  });

  it("a device cookie of another account, or a forged one, counts against the account", async () => {
    const email = uniqueEmail("victim");
    await registerUser(t, { email, headers: { "X-Forwarded-For": "192.0.2.30" } });
    const other = await registerUser(t, { headers: { "X-Forwarded-For": "192.0.2.31" } });
    const foreign = deviceCookie(other.res) as string;
    const forged = foreign.replace(/.$/, (c) => (c === "A" ? "B" : "A"));
    for (let i = 0; i < 5; i++) {
      const res = await attempt(nextAddress(), email, "wrong", i % 2 ? foreign : forged);
      expect(res.status).toBe(401);
    }
    expect((await attempt(nextAddress(), email, TEST_PASSWORD, foreign)).status).toBe(429);
  });

  it("sign out of all other devices and a password change void the other browsers' device cookies", async () => {
    const email = uniqueEmail("revoke");
    const a = await registerUser(t, { email, headers: { "X-Forwarded-For": "192.0.2.40" } });
    const deviceA = deviceCookie(a.res) as string;
    const b = await attempt("192.0.2.41", email, TEST_PASSWORD);
    expect(b.status).toBe(200);
    const sessionB = sessionCookie(b, t.config.session.cookieName) as string;

    const revoked = await request(t.app)
      .post("/auth/sessions/revoke-others")
      .set("X-Forwarded-For", "192.0.2.41")
      .set("Cookie", [sessionB, deviceCookie(b) as string].join("; "));
    expect(revoked.status).toBe(204);
    const deviceB = deviceCookie(revoked) as string;
    expect(deviceB).toBeDefined();

    // Lock the account for untrusted clients: A is one of them now, B is still known.
    for (let i = 0; i < 5; i++) await attempt(nextAddress(), email, "wrong");
    expect((await attempt("192.0.2.40", email, TEST_PASSWORD, deviceA)).status).toBe(429);
    const again = await attempt("192.0.2.41", email, TEST_PASSWORD, deviceB);
    expect(again.status).toBe(200);

    // A password change voids B's cookie too; the response brings a new one.
    const changed = await request(t.app)
      .post("/auth/password")
      .set("X-Forwarded-For", "192.0.2.41")
      .set("Cookie", [sessionCookie(again, t.config.session.cookieName), deviceCookie(again)].join("; "))
      .send({ currentPassword: TEST_PASSWORD, newPassword: "a brand new password" });
    expect(changed.status).toBe(204);
    const renewed = deviceCookie(changed) as string;
    expect((await attempt("192.0.2.41", email, "a brand new password", deviceCookie(again))).status).toBe(
      429,
    );
    expect((await attempt("192.0.2.41", email, "a brand new password", renewed)).status).toBe(200);
  });
});

describe("re-authentication", () => {
  it("wrong current passwords are refused with 429 after the account limit (API and page)", async () => {
    const user = await registerUser(t, { headers: { "X-Forwarded-For": "192.0.2.50" } });
    // A stolen session: the thief has the session cookie but not the owner's device cookie.
    const change = (password: string) =>
      request(t.app)
        .post("/auth/password")
        .set("X-Forwarded-For", "203.0.113.50")
        .set("Cookie", user.cookie)
        .send({ currentPassword: password, newPassword: "stolen account password" });
    for (let i = 0; i < 5; i++) expect((await change(`guess-${i}`)).status).toBe(403);
    const refused = await change("guess-5");
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("rate_limited");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    // Even the right one is refused while locked: a guess cannot be confirmed.
    expect((await change(TEST_PASSWORD)).status).toBe(429);

    const page = await request(t.app)
      .post("/account/password")
      .set("X-Forwarded-For", "203.0.113.50")
      .set("Cookie", user.cookie)
      .type("form")
      .send({ currentPassword: "guess-page", newPassword: "stolen account password" });
    expect(page.status).toBe(429);
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    expect(page.text).toMatch(/Too many password attempts/);
  });

  it("from a known device, wrong current passwords count against the device", async () => {
    const user = await registerUser(t, { headers: { "X-Forwarded-For": "192.0.2.60" } });
    const cookies = [user.cookie, deviceCookie(user.res)].join("; ");
    const change = (password: string) =>
      request(t.app)
        .post("/auth/password")
        .set("X-Forwarded-For", "192.0.2.60")
        .set("Cookie", cookies)
        .send({ currentPassword: password, newPassword: "another new password" });
    for (let i = 0; i < 3; i++) expect((await change(`guess-${i}`)).status).toBe(403);
    expect((await change("guess-3")).status).toBe(429);
    // The account is not locked for a login from elsewhere.
    expect((await attempt("192.0.2.61", user.email, TEST_PASSWORD)).status).toBe(200);
  });
});

describe("hash queue", () => {
  it("one client's flood of password checks does not stop another client's login", async () => {
    const flood = await testApp({
      env: {
        TRUST_PROXY: "1",
        PASSWORD_SCRYPT_LOG_N: "14",
        PASSWORD_HASH_CONCURRENCY: "1",
        PASSWORD_HASH_PER_CLIENT_MAX: "2",
        // Limits out of the way: only the hash queue is under test.
        RATE_LIMIT_LOGIN_ACCOUNT_LIMIT: "10000",
        RATE_LIMIT_LOGIN_LIMIT: "10000",
        RATE_LIMIT_GLOBAL_LIMIT: "10000",
      },
    });
    const server = flood.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const attacker = await registerUser(flood, { headers: { "X-Forwarded-For": "203.0.113.70" } });
      const victim = await registerUser(flood, { headers: { "X-Forwarded-For": "192.0.2.70" } });

      const victimLogin = () =>
        request(base)
          .post("/auth/login")
          .set("X-Forwarded-For", "192.0.2.70")
          .send({ email: victim.email, password: TEST_PASSWORD });
      const quietStart = Date.now();
      expect((await victimLogin()).status).toBe(200);
      const quietMs = Date.now() - quietStart;

      const started = Date.now();
      const floodRequests = Array.from({ length: 100 }, (_, i) =>
        request(base)
          .post("/auth/password")
          .set("X-Forwarded-For", "203.0.113.70")
          .set("Cookie", attacker.cookie)
          .send({ currentPassword: `wrong-${i}`, newPassword: "whatever password" })
          .then((res) => res.status),
      );
      await sleep(100); // the flood is under way
      const loginStart = Date.now();
      const res = await victimLogin();
      const loginMs = Date.now() - loginStart;
      const statuses = await Promise.all(floodRequests);
      const tally: Record<number, number> = {};
      for (const s of statuses) tally[s] = (tally[s] ?? 0) + 1;
      console.log(
        `hash flood: victim login ${res.status} in ${loginMs} ms (${quietMs} ms without the flood); flood answers ${JSON.stringify(tally)} in ${Date.now() - started} ms`,
      );
      expect(res.status).toBe(200);
      // Generous: the flood's 100 requests share this process's CPU with the login; the hash queue must
      // not add its wait (2 s per refused slot) on top.
      expect(loginMs).toBeLessThan(5000);
      expect(tally[503]).toBeGreaterThan(50); // the attacker's own checks past its cap were refused
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("session cap", () => {
  it("a login past SESSION_MAX_PER_USER ends the least recently used session", async () => {
    const capped = await testApp({ env: { SESSION_MAX_PER_USER: "3" } });
    const first = await registerUser(capped);
    const logIn = async () => {
      const res = await request(capped.app)
        .post("/auth/login")
        .send({ email: first.email, password: TEST_PASSWORD });
      expect(res.status).toBe(200);
      return sessionCookie(res, capped.config.session.cookieName) as string;
    };
    const second = await logIn();
    const third = await logIn();
    // The first session is the most recently used now, as the last-seen middleware records it.
    const me = await request(capped.app).get("/auth/me").set("Cookie", first.cookie);
    const userId = me.body.user.id as string;
    const redis = await testRedisClient();
    const { seen } = redisKeys(capped.config.keyPrefix).sessionIndex(userId);
    expect(await redis.zadd(seen, "XX", "CH", Date.now(), sessionIdOf(first.cookie))).toBe(1);

    const fourth = await logIn();
    const status = async (cookie: string) =>
      (await request(capped.app).get("/auth/me").set("Cookie", cookie)).status;
    expect(await status(second)).toBe(401);
    expect(await status(first.cookie)).toBe(200);
    expect(await status(third)).toBe(200);
    expect(await status(fourth)).toBe(200);
    const list = await request(capped.app).get("/auth/sessions").set("Cookie", fourth);
    expect(list.body.sessions).toHaveLength(3);
  });
});

describe("hash cost", () => {
  it("a raised PASSWORD_SCRYPT_LOG_N upgrades the stored hash at the next login, and the user still logs in", async () => {
    const { db } = await testDatabase();
    const before = await testApp({ env: { PASSWORD_SCRYPT_LOG_N: "10" } });
    const user = await registerUser(before);
    const row = async () =>
      (
        await db.query<{ password_hash: string; credential_epoch: number }>(
          "SELECT password_hash, credential_epoch FROM users WHERE email = $1",
          [user.email],
        )
      ).rows[0] as { password_hash: string; credential_epoch: number };
    expect((await row()).password_hash).toMatch(/^scrypt\$10\$/);
    const epoch = (await row()).credential_epoch;

    const after = await testApp({ env: { PASSWORD_SCRYPT_LOG_N: "11" } });
    const session = await request(after.app)
      .post("/auth/login")
      .send({ email: user.email, password: TEST_PASSWORD });
    expect(session.status).toBe(200);
    expect((await row()).password_hash).toMatch(/^scrypt\$11\$/);
    expect((await row()).credential_epoch).toBe(epoch); // the same password: no session ends
    const cookie = sessionCookie(session, after.config.session.cookieName) as string;
    expect((await request(after.app).get("/auth/me").set("Cookie", cookie)).status).toBe(200);
    expect((await request(before.app).get("/auth/me").set("Cookie", user.cookie)).status).toBe(200);
    // The upgraded hash logs in; a wrong password still does not.
    await request(after.app)
      .post("/auth/login")
      .send({ email: user.email, password: TEST_PASSWORD })
      .expect(200);
    await request(after.app)
      .post("/auth/login")
      .send({ email: user.email, password: "not it at all" })
      .expect(401);
  });
});
