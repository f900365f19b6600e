import { generate } from "otplib";
import request from "supertest";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { TestApp } from "../../helpers/app.js";
import { ageAuthentication, registerUser, testApp } from "../../helpers/fixtures.js";
import { sessionCookie, sessionIdOf } from "../../helpers/session.js";

let t: TestApp;
/** The server's TOTP clock: the real one unless a test holds it still across a step boundary. */
let pinned: number | undefined;
const clock = () => pinned ?? Date.now();
beforeAll(async () => {
  t = await testApp({
    env: {
      RATE_LIMIT_LOGIN_LIMIT: "1000",
      RATE_LIMIT_MFA_ACCOUNT_LIMIT: "3",
      RATE_LIMIT_MFA_DEVICE_LIMIT: "4",
    },
    now: clock,
  });
});

const STEP = 30; // seconds
const code = (secret: string, offsetSteps = 0) =>
  generate({ secret, epoch: Math.floor(clock() / 1000) + offsetSteps * STEP });
const key = (cookie: string) => `${t.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;
const stored = async (cookie: string) => JSON.parse((await t.redis!.get(key(cookie)))!);

/** A user with TOTP on: their session cookie, password, secret and recovery codes. */
async function userWithTotp() {
  const { cookie, email, password } = await registerUser(t);
  const setup = await request(t.app).post("/auth/mfa/totp/setup").set("Cookie", cookie);
  expect(setup.status).toBe(200);
  expect(setup.body.uri).toMatch(/^otpauth:\/\/totp\//);
  const secret: string = setup.body.secret;
  const confirm = await request(t.app)
    .post("/auth/mfa/totp/confirm")
    .set("Cookie", cookie)
    .send({ code: await code(secret) });
  expect(confirm.status).toBe(200);
  return { cookie, email, password, secret, recoveryCodes: confirm.body.recoveryCodes as string[] };
}

/** POST /auth/login for a user with a second factor: the browser's pending session cookie. */
async function firstStep(email: string, password: string, headers: Record<string, string> = {}) {
  const res = await request(t.app).post("/auth/login").set(headers).send({ email, password });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ mfaRequired: true, methods: ["totp", "recovery_code"] });
  const cookie = sessionCookie(res, t.config.session.cookieName) as string;
  expect(cookie).toBeDefined();
  await request(t.app).get("/auth/me").set("Cookie", cookie).expect(401);
  return cookie;
}

const verify = (cookie: string, body: object) =>
  request(t.app).post("/auth/mfa/verify").set("Cookie", cookie).send(body);

describe("TOTP sign-in", () => {
  it("turns on with a first code and ten recovery codes; a password alone then signs nobody in", async () => {
    const { cookie, email, password, recoveryCodes } = await userWithTotp();
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    const status = await request(t.app).get("/auth/mfa").set("Cookie", cookie);
    expect(status.body).toEqual({ totp: true, recoveryCodesLeft: 10, required: false });
    const rows = await t.services.db.query<{ code_hash: string }>(
      "SELECT code_hash FROM recovery_codes rc JOIN users u ON u.id = rc.user_id WHERE u.email = $1",
      [email],
    );
    expect(rows.rows.map((r) => r.code_hash)).not.toContain(recoveryCodes[0]);
    const sealed = await t.services.db.query<{ secret_sealed: string }>(
      "SELECT secret_sealed FROM user_totp t JOIN users u ON u.id = t.user_id WHERE u.email = $1",
      [email],
    );
    expect(sealed.rows[0]?.secret_sealed).toMatch(/^v1\./);
    await firstStep(email, password);
  });

  it("accepts a code one step old on a new session id with amr pwd+otp, never the same step twice", async () => {
    const { email, password, secret } = await userWithTotp();
    // As if TOTP had been confirmed a few minutes ago: the confirming code's step is long past.
    await t.services.db.query(
      "UPDATE user_totp SET last_step = last_step - 10 WHERE user_id = (SELECT id FROM users WHERE email = $1)",
      [email],
    );
    // "One step old" must not become "two steps old" halfway through: the clock holds still for this test.
    pinned = Date.now();
    onTestFinished(() => {
      pinned = undefined;
    });
    const pending = await firstStep(email, password);
    expect((await verify(pending, { code: "000000" })).body.error.code).toBe("invalid_mfa_code");

    const previous = await code(secret, -1);
    const ok = await verify(pending, { code: previous });
    expect(ok.status).toBe(200);
    expect(ok.body.user.email).toBe(email);
    const signedIn = sessionCookie(ok, t.config.session.cookieName) as string;
    expect(sessionIdOf(signedIn)).not.toBe(sessionIdOf(pending));
    await request(t.app).get("/auth/me").set("Cookie", signedIn).expect(200);
    expect((await stored(signedIn)).auth.amr).toEqual(["pwd", "otp"]);

    // The same code again, on another sign-in: refused, as is any code of an earlier step.
    const again = await firstStep(email, password);
    expect((await verify(again, { code: previous })).status).toBe(401);
    expect((await verify(again, { code: await code(secret, -1) })).status).toBe(401);
    expect((await verify(again, { code: await code(secret, 1) })).status).toBe(200);
  });

  it("takes each recovery code once", async () => {
    const { email, password, recoveryCodes } = await userWithTotp();
    const first = await firstStep(email, password);
    const used = await verify(first, { recoveryCode: recoveryCodes[0]!.toUpperCase() });
    expect(used.status).toBe(200);
    const signedIn = sessionCookie(used, t.config.session.cookieName) as string;
    expect((await request(t.app).get("/auth/mfa").set("Cookie", signedIn)).body.recoveryCodesLeft).toBe(9);
    const second = await firstStep(email, password);
    expect((await verify(second, { recoveryCode: recoveryCodes[0] })).status).toBe(401);
  });

  it("forgets a pending sign-in after five minutes, and refuses a verify without one", async () => {
    const { email, password, secret } = await userWithTotp();
    const pending = await firstStep(email, password);
    const session = await stored(pending);
    session.pendingSignIn.expiresAt = Date.now() - 1;
    await t.redis!.set(key(pending), JSON.stringify(session), "KEEPTTL");
    expect((await verify(pending, { code: await code(secret) })).body.error.code).toBe("unauthenticated");
    expect((await request(t.app).post("/auth/mfa/verify").send({ code: "123456" })).status).toBe(401);
  });

  it("limits wrong codes per account, never for the owner's known device", async () => {
    const { email, password, secret } = await userWithTotp();
    // The owner's browser signed in before (its device cookie is valid for the account).
    const ownerFirst = await request(t.app).post("/auth/login").send({ email, password });
    const device = ([] as string[])
      .concat(ownerFirst.headers["set-cookie"] ?? [])
      .find((c) => c.startsWith(`${t.config.session.deviceCookieName}=`));
    expect(device).toBeUndefined(); // not signed in yet: no device cookie for a pending sign-in
    const ownerPending = sessionCookie(ownerFirst, t.config.session.cookieName) as string;
    const owner = await verify(ownerPending, { code: await code(secret, 1) });
    expect(owner.status).toBe(200);
    const deviceCookie = ([] as string[])
      .concat(owner.headers["set-cookie"] ?? [])
      .find((c) => c.startsWith(`${t.config.session.deviceCookieName}=`))
      ?.split(";")[0] as string;
    expect(deviceCookie).toBeDefined();

    const attacker = await firstStep(email, password);
    for (let i = 0; i < 3; i++) expect((await verify(attacker, { code: "111111" })).status).toBe(401);
    const locked = await verify(attacker, { code: await code(secret, 1) });
    expect(locked.status).toBe(429);

    // The owner's code of that step was used; the limit is the device's own, not the locked account's.
    const ownerAgain = await firstStep(email, password, { Cookie: deviceCookie });
    expect((await verify(`${ownerAgain}; ${deviceCookie}`, { code: "222222" })).status).toBe(401);
    await t.services.db.query(
      "UPDATE user_totp SET last_step = last_step - 10 WHERE user_id = (SELECT id FROM users WHERE email = $1)",
      [email],
    );
    const ok = await verify(`${ownerAgain}; ${deviceCookie}`, { code: await code(secret) });
    expect(ok.status).toBe(200);
  });

  it("limits a known device's own guesses too, and counts recovery codes like codes", async () => {
    const { email, password, secret, recoveryCodes } = await userWithTotp();
    const owner = await verify(await firstStep(email, password), { code: await code(secret, 1) });
    expect(owner.status).toBe(200);
    const deviceCookie = ([] as string[])
      .concat(owner.headers["set-cookie"] ?? [])
      .find((c) => c.startsWith(`${t.config.session.deviceCookieName}=`))
      ?.split(";")[0] as string;

    // A thief of the owner's browser (its device cookie) gets RATE_LIMIT_MFA_DEVICE_LIMIT guesses, then none.
    const stolen = `${await firstStep(email, password, { Cookie: deviceCookie })}; ${deviceCookie}`;
    for (let i = 0; i < 4; i++) expect((await verify(stolen, { code: "333333" })).status).toBe(401);
    expect((await verify(stolen, { recoveryCode: recoveryCodes[0] })).status).toBe(429);

    // Elsewhere, recovery codes are guesses against the account's limit like codes: the right one is
    // refused once it is spent, and stays unused.
    const elsewhere = await firstStep(email, password);
    for (let i = 0; i < 3; i++) {
      expect((await verify(elsewhere, { recoveryCode: `wrong-guess-${i}` })).status).toBe(401);
    }
    expect((await verify(elsewhere, { recoveryCode: recoveryCodes[0] })).status).toBe(429);
    const signedIn = sessionCookie(owner, t.config.session.cookieName) as string;
    expect((await request(t.app).get("/auth/mfa").set("Cookie", signedIn)).body.recoveryCodesLeft).toBe(10);
  });

  it("asks for a recent authentication before turning TOTP off or regenerating codes", async () => {
    const { cookie, secret } = await userWithTotp();
    await ageAuthentication(t, cookie);
    const off = await request(t.app).delete("/auth/mfa/totp").set("Cookie", cookie);
    expect(off.status).toBe(403);
    expect(off.body.error.code).toBe("reauthentication_required");
    expect((await request(t.app).post("/auth/mfa/recovery-codes").set("Cookie", cookie)).status).toBe(403);

    // A code from the app is a recent authentication too.
    expect((await verify(cookie, { code: await code(secret, 1) })).status).toBe(200);
    const fresh = await request(t.app).post("/auth/mfa/recovery-codes").set("Cookie", cookie);
    expect(fresh.body.recoveryCodes).toHaveLength(10);
    expect((await request(t.app).delete("/auth/mfa/totp").set("Cookie", cookie)).status).toBe(204);
    expect((await request(t.app).get("/auth/mfa").set("Cookie", cookie)).body.totp).toBe(false);
  });
});

describe("the login page's second step", () => {
  it("sends a person with TOTP from the password form to the code form, then to where they were going", async () => {
    const { email, password, secret } = await userWithTotp();
    const first = await request(t.app)
      .post("/login")
      .type("form")
      .send({ email, password, next: "/account" });
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe("/login/mfa?next=%2Faccount");
    const cookie = sessionCookie(first, t.config.session.cookieName) as string;
    const page = await request(t.app).get("/login/mfa?next=/account").set("Cookie", cookie);
    expect(page.status).toBe(200);
    expect(page.text).toContain('autocomplete="one-time-code"');
    const wrong = await request(t.app)
      .post("/login/mfa")
      .set("Cookie", cookie)
      .type("form")
      .send({ code: "000000" });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain("The code is wrong");
    const done = await request(t.app)
      .post("/login/mfa")
      .set("Cookie", cookie)
      .type("form")
      .send({ code: await code(secret, 1), recoveryCode: "", next: "/account" });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe("/account");
    const signedIn = sessionCookie(done, t.config.session.cookieName) as string;
    expect((await request(t.app).get("/account").set("Cookie", signedIn)).status).toBe(200);
  });
});
