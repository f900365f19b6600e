import { generate } from "otplib";
import request, { type Response } from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../helpers/app.js";
import { registerUser, testApp } from "../../helpers/fixtures.js";
import { sessionCookie, sessionIdOf } from "../../helpers/session.js";

let t: TestApp;
beforeAll(async () => {
  t = await testApp({
    env: { RATE_LIMIT_LOGIN_LIMIT: "1000", FORWARD_AUTH_RULES: "mfa:admin.example.com/,*/" },
  });
});

const PASSWORD = "correct horse battery";
const STEP = 30; // seconds
const key = (cookie: string) => `${t.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;
const stored = async (cookie: string) => JSON.parse((await t.redis!.get(key(cookie)))!);
const forwarded = (host: string) => ({
  "X-Forwarded-Proto": "https",
  "X-Forwarded-Host": host,
  "X-Forwarded-Uri": "/",
});

/** The device cookie a response set, as `name=value`. */
const deviceCookieOf = (res: Response) =>
  ([] as string[])
    .concat(res.headers["set-cookie"] ?? [])
    .find((c) => c.startsWith(`${t.config.session.deviceCookieName}=`))
    ?.split(";")[0];

/** A user with TOTP on; `nextCode` forgets the last step used, so the current code is accepted again. */
async function userWithTotp() {
  const user = await registerUser(t, { password: PASSWORD });
  const setup = await request(t.app).post("/auth/mfa/totp/setup").set("Cookie", user.cookie);
  const secret: string = setup.body.secret;
  const confirm = await request(t.app)
    .post("/auth/mfa/totp/confirm")
    .set("Cookie", user.cookie)
    .send({ code: await generate({ secret }) });
  expect(confirm.status).toBe(200);
  const { rows } = await t.services.db.query<{ id: string }>("SELECT id FROM users WHERE email = $1", [
    user.email,
  ]);
  const id = rows[0]!.id;
  const nextCode = async () => {
    await t.services.db.query("UPDATE user_totp SET last_step = NULL WHERE user_id = $1", [id]);
    return generate({ secret });
  };
  return { ...user, id, nextCode };
}

/** A password login from a browser holding `device` (or none): the answer and the session cookie. */
async function passwordLogin(email: string, device?: string) {
  const res = await request(t.app)
    .post("/auth/login")
    .set(device ? { Cookie: device } : {})
    .send({ email, password: PASSWORD });
  expect(res.status).toBe(200);
  return { res, cookie: sessionCookie(res, t.config.session.cookieName) as string };
}

/** Signs in with password and code, asking to trust the browser; its device cookie. */
async function trustedSignIn(user: Awaited<ReturnType<typeof userWithTotp>>, device?: string) {
  const first = await passwordLogin(user.email, device);
  expect(first.res.body.mfaRequired).toBe(true);
  const done = await request(t.app)
    .post("/auth/mfa/verify")
    .set("Cookie", [first.cookie, ...(device ? [device] : [])].join("; "))
    .send({ code: await user.nextCode(), trustDevice: true });
  expect(done.status).toBe(200);
  const trusted = deviceCookieOf(done);
  expect(trusted).toBeDefined();
  return trusted as string;
}

describe("a trusted device", () => {
  it("skips the second factor at the next password login, with amr pwd+trusted_device, not multi-factor", async () => {
    const user = await userWithTotp();
    const device = await trustedSignIn(user);

    const again = await passwordLogin(user.email, device);
    expect(again.res.body.mfaRequired).toBeUndefined();
    expect(again.res.body.user.email).toBe(user.email);
    expect((await stored(again.cookie)).auth.amr).toEqual(["pwd", "trusted_device"]);

    // Forward auth tells the truth: no second factor on this session, so an mfa: rule refuses it.
    const app = await request(t.app)
      .get("/auth/verify")
      .set({ Cookie: again.cookie, ...forwarded("app.example.com") });
    expect(app.status).toBe(200);
    expect(app.headers["x-auth-mfa"]).toBe("false");
    const admin = await request(t.app)
      .get("/auth/verify")
      .set({ Cookie: again.cookie, ...forwarded("admin.example.com") });
    expect(admin.status).toBe(403);
    expect(admin.body.error.code).toBe("second_factor_required");

    // The renewed device cookie keeps the trust: a third login skips the factor too.
    const renewed = deviceCookieOf(again.res) as string;
    const third = await passwordLogin(user.email, renewed);
    expect(third.res.body.user.email).toBe(user.email);

    // A code on that session (step-up) makes it multi-factor.
    const stepUp = await request(t.app)
      .post("/auth/mfa/verify")
      .set("Cookie", third.cookie)
      .send({ code: await user.nextCode() });
    expect(stepUp.status).toBe(200);
    const after = await request(t.app)
      .get("/auth/verify")
      .set({ Cookie: third.cookie, ...forwarded("admin.example.com") });
    expect(after.headers["x-auth-mfa"]).toBe("true");
  });

  it("is not trusted without the choice, and another browser (no cookie) is still asked", async () => {
    const user = await userWithTotp();
    const first = await passwordLogin(user.email);
    const plain = await request(t.app)
      .post("/auth/mfa/verify")
      .set("Cookie", first.cookie)
      .send({ code: await user.nextCode(), trustDevice: false });
    expect(plain.status).toBe(200);
    const known = deviceCookieOf(plain) as string;
    expect(known).toBeDefined(); // a known device, not a trusted one
    expect((await passwordLogin(user.email, known)).res.body.mfaRequired).toBe(true);

    await trustedSignIn(user);
    expect((await passwordLogin(user.email)).res.body.mfaRequired).toBe(true);
  });

  it("ends with a password change", async () => {
    const user = await userWithTotp();
    const device = await trustedSignIn(user);
    const signedIn = await passwordLogin(user.email, device);
    expect(signedIn.res.body.user.email).toBe(user.email); // trusted until now
    const changed = await request(t.app)
      .post("/auth/password")
      .set("Cookie", `${signedIn.cookie}; ${device}`)
      .send({ currentPassword: PASSWORD, newPassword: "another horse battery" });
    expect(changed.status).toBe(204);
    const res = await request(t.app)
      .post("/auth/login")
      .set("Cookie", deviceCookieOf(changed) ?? device)
      .send({ email: user.email, password: "another horse battery" });
    expect(res.body.mfaRequired).toBe(true);
    // Nor does the cookie from before the change count.
    const old = await request(t.app)
      .post("/auth/login")
      .set("Cookie", device)
      .send({ email: user.email, password: "another horse battery" });
    expect(old.body.mfaRequired).toBe(true);
  });

  it('ends with "sign out everywhere"', async () => {
    const user = await userWithTotp();
    const device = await trustedSignIn(user);
    const signedIn = await passwordLogin(user.email, device);
    expect(signedIn.res.body.user.email).toBe(user.email); // trusted until now
    const revoked = await request(t.app)
      .post("/auth/sessions/revoke-others")
      .set("Cookie", `${signedIn.cookie}; ${device}`);
    expect(revoked.status).toBe(204);
    expect((await passwordLogin(user.email, device)).res.body.mfaRequired).toBe(true);
    const renewed = deviceCookieOf(revoked) as string;
    expect(renewed).toBeDefined();
    expect((await passwordLogin(user.email, renewed)).res.body.mfaRequired).toBe(true);
  });

  it("ends with a reset of the second factors (admin API, console, ops CLI), and with any factor change", async () => {
    const user = await userWithTotp();
    const device = await trustedSignIn(user);
    expect((await passwordLogin(user.email, device)).res.body.user.email).toBe(user.email);
    await t.services.admin.factors.reset(user.id, "cli");
    // Without a factor there is nothing to skip: turn TOTP on again, then the old trust must not count.
    const fresh = await passwordLogin(user.email, device);
    expect(fresh.res.body.user.email).toBe(user.email);
    const setup = await request(t.app).post("/auth/mfa/totp/setup").set("Cookie", fresh.cookie);
    const code = await generate({ secret: setup.body.secret });
    await request(t.app)
      .post("/auth/mfa/totp/confirm")
      .set("Cookie", fresh.cookie)
      .send({ code })
      .expect(200);
    expect((await passwordLogin(user.email, device)).res.body.mfaRequired).toBe(true);

    // New recovery codes are a factor change too.
    const other = await userWithTotp();
    const otherDevice = await trustedSignIn(other);
    const session = await passwordLogin(other.email, otherDevice);
    expect(session.res.body.user.email).toBe(other.email);
    await request(t.app).post("/auth/mfa/recovery-codes").set("Cookie", session.cookie).expect(200);
    expect((await passwordLogin(other.email, otherDevice)).res.body.mfaRequired).toBe(true);
  });

  it("refuses another user's trusted cookie and a forged one", async () => {
    const alice = await userWithTotp();
    const bob = await userWithTotp();
    const alices = await trustedSignIn(alice);
    await trustedSignIn(bob); // Bob trusts a browser of his own: that trust is not Alice's cookie's
    expect((await passwordLogin(bob.email, alices)).res.body.mfaRequired).toBe(true);

    // The same cookie with its user id swapped for Bob's, or its trust start moved: the MACs fail.
    const [name, value] = alices.split("=") as [string, string];
    const parts = value.split(".");
    expect(parts).toHaveLength(7);
    const asBob = [parts[0], bob.id, ...parts.slice(2)].join(".");
    expect((await passwordLogin(bob.email, `${name}=${asBob}`)).res.body.mfaRequired).toBe(true);
    const moved = [...parts.slice(0, 5), String(Number(parts[5]) - 1), parts[6]].join(".");
    expect((await passwordLogin(alice.email, `${name}=${moved}`)).res.body.mfaRequired).toBe(true);
    // Bob's own (untrusted) device cookie with Alice's trust part appended.
    const bobFirst = await passwordLogin(bob.email);
    const bobDone = await request(t.app)
      .post("/auth/mfa/verify")
      .set("Cookie", bobFirst.cookie)
      .send({ code: await bob.nextCode() });
    const bobs = (deviceCookieOf(bobDone) as string).split("=")[1] as string;
    const grafted = [bobs, ...parts.slice(5)].join(".");
    expect((await passwordLogin(bob.email, `${name}=${grafted}`)).res.body.mfaRequired).toBe(true);
    // Alice's untouched cookie still works.
    expect((await passwordLogin(alice.email, alices)).res.body.mfaRequired).toBeUndefined();
  });

  it("is offered on the second-step page: the ticked box trusts the browser", async () => {
    const user = await userWithTotp();
    const first = await request(t.app)
      .post("/login")
      .type("form")
      .send({ email: user.email, password: PASSWORD });
    const cookie = sessionCookie(first, t.config.session.cookieName) as string;
    const page = await request(t.app).get("/login/mfa").set("Cookie", cookie);
    expect(page.text).toContain('name="trustDevice"');
    expect(page.text).toContain("Trust this device for 30 days");
    const done = await request(t.app)
      .post("/login/mfa")
      .set("Cookie", cookie)
      .type("form")
      .send({ code: await user.nextCode(), recoveryCode: "", trustDevice: "true" });
    expect(done.status).toBe(303);
    const device = deviceCookieOf(done) as string;
    expect((await passwordLogin(user.email, device)).res.body.mfaRequired).toBeUndefined();
  });

  it("refuses a trustDevice that is not a boolean, and changes nothing", async () => {
    const user = await userWithTotp();
    const first = await passwordLogin(user.email);
    const bad = await request(t.app)
      .post("/auth/mfa/verify")
      .set("Cookie", first.cookie)
      .send({ code: await user.nextCode(), trustDevice: "yes" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    expect((await stored(first.cookie)).pendingSignIn).toBeDefined();
  });
});

describe("MFA_TRUSTED_DEVICE_DAYS=0", () => {
  it("offers no choice and trusts no browser", async () => {
    const off = await testApp({ env: { RATE_LIMIT_LOGIN_LIMIT: "1000", MFA_TRUSTED_DEVICE_DAYS: "0" } });
    const user = await registerUser(off, { password: PASSWORD });
    const setup = await request(off.app).post("/auth/mfa/totp/setup").set("Cookie", user.cookie);
    const secret: string = setup.body.secret;
    const code = (n: number) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + STEP * n });
    await request(off.app)
      .post("/auth/mfa/totp/confirm")
      .set("Cookie", user.cookie)
      .send({ code: await code(0) })
      .expect(200);
    const first = await request(off.app).post("/auth/login").send({ email: user.email, password: PASSWORD });
    const pending = sessionCookie(first, off.config.session.cookieName) as string;
    expect((await request(off.app).get("/login/mfa").set("Cookie", pending)).text).not.toContain(
      "trustDevice",
    );
    const done = await request(off.app)
      .post("/auth/mfa/verify")
      .set("Cookie", pending)
      .send({ code: await code(1), trustDevice: true });
    expect(done.status).toBe(200);
    const device = deviceCookieOf(done) as string;
    const again = await request(off.app)
      .post("/auth/login")
      .set("Cookie", device)
      .send({ email: user.email, password: PASSWORD });
    expect(again.body.mfaRequired).toBe(true);
  });
});

describe("MFA=required", () => {
  it("lets a trusted device's session through the set-up gate: its owner has a factor", async () => {
    const req = await testApp({ env: { RATE_LIMIT_LOGIN_LIMIT: "1000", MFA: "required" } });
    const user = await registerUser(req, { password: PASSWORD });
    const setup = await request(req.app).post("/auth/mfa/totp/setup").set("Cookie", user.cookie);
    const secret: string = setup.body.secret;
    await request(req.app)
      .post("/auth/mfa/totp/confirm")
      .set("Cookie", user.cookie)
      .send({ code: await generate({ secret }) })
      .expect(200);
    await req.services.db.query(
      "UPDATE user_totp SET last_step = NULL WHERE user_id = (SELECT id FROM users WHERE email = $1)",
      [user.email],
    );
    const first = await request(req.app).post("/auth/login").send({ email: user.email, password: PASSWORD });
    const pending = sessionCookie(first, req.config.session.cookieName) as string;
    const done = await request(req.app)
      .post("/auth/mfa/verify")
      .set("Cookie", pending)
      .send({ code: await generate({ secret }), trustDevice: true });
    expect(done.status).toBe(200);
    const device = ([] as string[])
      .concat(done.headers["set-cookie"] ?? [])
      .find((c) => c.startsWith(`${req.config.session.deviceCookieName}=`))
      ?.split(";")[0] as string;

    const again = await request(req.app)
      .post("/auth/login")
      .set("Cookie", device)
      .send({ email: user.email, password: PASSWORD });
    expect(again.body.user.email).toBe(user.email);
    const session = sessionCookie(again, req.config.session.cookieName) as string;
    const profile = await request(req.app).get("/api/echo-profile").set("Cookie", session);
    expect(profile.status).not.toBe(403);
    // The same request from a password-only session is held at the gate (policy.test.ts shows it too).
    const bare = await registerUser(req, { password: PASSWORD });
    const held = await request(req.app).get("/api/echo-profile").set("Cookie", bare.cookie);
    expect(held.body.error.code).toBe("mfa_setup_required");
  });
});
