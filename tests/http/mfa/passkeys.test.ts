import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../helpers/app.js";
import { ageAuthentication, registerUser, testApp } from "../../helpers/fixtures.js";
import { sessionCookie, sessionIdOf } from "../../helpers/session.js";
import { softAuthenticator } from "../../helpers/soft-authenticator.js";

let t: TestApp;
beforeAll(async () => {
  t = await testApp({ env: { RATE_LIMIT_LOGIN_LIMIT: "1000" } });
});

const key = (cookie: string) => `${t.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;
const stored = async (cookie: string) => JSON.parse((await t.redis!.get(key(cookie)))!);
const newAuthenticator = () => {
  const url = new URL(t.config.mail.publicUrl);
  return softAuthenticator({ origin: url.origin, rpId: url.hostname });
};

/** A user with one passkey named "Laptop": their cookie, email, password and authenticator. */
async function userWithPasskey() {
  const user = await registerUser(t);
  const authenticator = newAuthenticator();
  const options = await request(t.app).post("/auth/passkeys/register/options").set("Cookie", user.cookie);
  expect(options.status).toBe(200);
  expect(options.body.authenticatorSelection.residentKey).toBe("required");
  const created = await request(t.app)
    .post("/auth/passkeys/register")
    .set("Cookie", user.cookie)
    .send({ response: authenticator.create(options.body), name: "Laptop" });
  expect(created.status).toBe(201);
  return { ...user, authenticator, passkeyId: created.body.passkey.id as string };
}

/** The options and the authenticator's answer of one sign-in, from the browser holding `cookie`. */
async function assertion(authenticator: ReturnType<typeof newAuthenticator>, cookie?: string) {
  const options = await request(t.app)
    .post("/auth/passkeys/login/options")
    .set(cookie ? { Cookie: cookie } : {});
  expect(options.status).toBe(200);
  return { options: options.body, response: authenticator.get(options.body) };
}

const passkeyLogin = (response: unknown, cookie?: string) =>
  request(t.app)
    .post("/auth/passkeys/login")
    .set(cookie ? { Cookie: cookie } : {})
    .send({ response });

describe("passkeys", () => {
  it("registers, lists and renames a passkey, then signs in with it and no password", async () => {
    const { cookie, email, authenticator, passkeyId } = await userWithPasskey();
    const list = await request(t.app).get("/auth/passkeys").set("Cookie", cookie);
    expect(list.body.passkeys).toEqual([
      expect.objectContaining({ id: passkeyId, name: "Laptop", lastUsedAt: null }),
    ]);
    await request(t.app)
      .patch(`/auth/passkeys/${passkeyId}`)
      .set("Cookie", cookie)
      .send({ name: "Work laptop" })
      .expect(204);

    const { options, response } = await assertion(authenticator);
    expect(options.allowCredentials).toEqual([]); // discoverable: the browser offers its own
    const signedIn = await passkeyLogin(response);
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.user.email).toBe(email);
    const session = sessionCookie(signedIn, t.config.session.cookieName) as string;
    expect((await stored(session)).auth.amr).toEqual(["hwk", "user"]);
    const after = await request(t.app).get("/auth/passkeys").set("Cookie", session);
    expect(after.body.passkeys[0]).toMatchObject({ name: "Work laptop", lastUsedAt: expect.any(String) });

    // The same answer again: its challenge was used.
    expect((await passkeyLogin(response)).body.error.code).toBe("passkey_refused");
  });

  it("refuses a cloned authenticator whose counter is behind", async () => {
    const { authenticator } = await userWithPasskey();
    const clone = authenticator.clone();
    expect((await passkeyLogin((await assertion(authenticator)).response)).status).toBe(200);
    const stale = await passkeyLogin((await assertion(clone)).response);
    expect(stale.status).toBe(401);
    expect(stale.body.error.code).toBe("passkey_refused");
    expect((await passkeyLogin((await assertion(authenticator)).response)).status).toBe(200);
  });

  it("tells a disabled account's owner so once their passkey answered, and nobody else", async () => {
    const { email, authenticator } = await userWithPasskey();
    const record = (await t.services.users.findByEmail(email))!;
    await t.services.users.setDisabled(record.id, true);
    const refused = await passkeyLogin((await assertion(authenticator)).response);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("account_disabled");
    expect(sessionCookie(refused, t.config.session.cookieName)).toBeUndefined();
    await t.services.events.settled();
    const events = (await t.services.events.recent(record.id)).map((e) => e.event);
    expect(events).toContain("login_refused_disabled");
    // Someone else's authenticator, not registered here: the generic refusal, nothing about the account.
    const stranger = await passkeyLogin((await assertion(newAuthenticator())).response);
    expect(stranger.body.error.code).toBe("passkey_refused");
  });

  it("is a second factor after a password", async () => {
    const { email, password, authenticator } = await userWithPasskey();
    const first = await request(t.app).post("/auth/login").send({ email, password });
    expect(first.body).toEqual({ mfaRequired: true, methods: ["passkey"] });
    const pending = sessionCookie(first, t.config.session.cookieName) as string;
    await request(t.app).get("/auth/me").set("Cookie", pending).expect(401);
    const { options, response } = await assertion(authenticator, pending);
    expect(options.allowCredentials).toEqual([expect.objectContaining({ id: authenticator.credentialId })]);
    const done = await passkeyLogin(response, pending);
    expect(done.status).toBe(200);
    const session = sessionCookie(done, t.config.session.cookieName) as string;
    expect(sessionIdOf(session)).not.toBe(sessionIdOf(pending));
    expect((await stored(session)).auth.amr).toEqual(["pwd", "hwk"]);
  });

  it("is a second factor through POST /auth/mfa/verify, which can trust the browser; only the pending user's passkey", async () => {
    const { email, password, authenticator } = await userWithPasskey();
    const stranger = await userWithPasskey();
    const first = await request(t.app).post("/auth/login").send({ email, password });
    expect(first.body).toEqual({ mfaRequired: true, methods: ["passkey"] });
    const pending = sessionCookie(first, t.config.session.cookieName) as string;
    const verify = (body: object) =>
      request(t.app).post("/auth/mfa/verify").set("Cookie", pending).send(body);

    // Another account's passkey, on a challenge issued to nobody in particular: refused, still pending.
    const strangers = (await assertion(stranger.authenticator)).response;
    const refused = await verify({ passkey: strangers });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("passkey_refused");
    expect((await stored(pending)).pendingSignIn).toBeDefined();
    expect((await verify({ passkey: { id: "x" } })).body.error.code).toBe("invalid_request");

    const { response } = await assertion(authenticator, pending);
    const done = await verify({ passkey: response, trustDevice: true });
    expect(done.status).toBe(200);
    expect(done.body.user.email).toBe(email);
    const session = sessionCookie(done, t.config.session.cookieName) as string;
    expect(sessionIdOf(session)).not.toBe(sessionIdOf(pending));
    expect((await stored(session)).auth.amr).toEqual(["pwd", "hwk"]);
    // The same assertion again: its challenge was used.
    expect((await verify({ passkey: response })).status).toBe(401);

    const device = ([] as string[])
      .concat(done.headers["set-cookie"] ?? [])
      .find((c) => c.startsWith(`${t.config.session.deviceCookieName}=`))
      ?.split(";")[0] as string;
    const again = await request(t.app).post("/auth/login").set("Cookie", device).send({ email, password });
    expect(again.body.user.email).toBe(email);

    // On a signed-in session it is a step-up, like a code.
    const stepUp = await request(t.app)
      .post("/auth/mfa/verify")
      .set("Cookie", stranger.cookie)
      .send({ passkey: (await assertion(stranger.authenticator, stranger.cookie)).response });
    expect(stepUp.status).toBe(200);
    expect((await stored(stranger.cookie)).auth.amr).toEqual(["pwd", "hwk"]);
  });

  it("asks for a recent authentication before adding or removing a passkey; a stranger's id is not found", async () => {
    const { cookie, passkeyId } = await userWithPasskey();
    const other = await userWithPasskey();
    await request(t.app).delete(`/auth/passkeys/${other.passkeyId}`).set("Cookie", cookie).expect(404);
    await ageAuthentication(t, cookie);
    const refused = await request(t.app).delete(`/auth/passkeys/${passkeyId}`).set("Cookie", cookie);
    expect(refused.body.error.code).toBe("reauthentication_required");
    expect((await request(t.app).post("/auth/passkeys/register/options").set("Cookie", cookie)).status).toBe(
      403,
    );
    await request(t.app)
      .post("/auth/reauthenticate")
      .set("Cookie", cookie)
      .send({ password: other.password });
    await request(t.app).delete(`/auth/passkeys/${passkeyId}`).set("Cookie", cookie).expect(204);
    expect((await request(t.app).get("/auth/passkeys").set("Cookie", cookie)).body.passkeys).toEqual([]);
  });
});
