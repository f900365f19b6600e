import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/app.js";
import { ageAuthentication, registerUser, testApp } from "../helpers/fixtures.js";
import { sessionIdOf } from "../helpers/session.js";

let t: TestApp;
beforeAll(async () => {
  t = await testApp({ env: { REAUTH_MAX_AGE_SECONDS: "300" } });
});

const key = (cookie: string) => `${t.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;
const storedAuth = async (cookie: string) => JSON.parse((await t.redis!.get(key(cookie)))!).auth;

describe("POST /auth/reauthenticate: the password again on this session", () => {
  it("makes the session's authentication recent without a new session id; a wrong password changes nothing", async () => {
    const { cookie, password } = await registerUser(t);
    const aged = await ageAuthentication(t, cookie);

    const wrong = await request(t.app)
      .post("/auth/reauthenticate")
      .set("Cookie", cookie)
      .send({ password: "not my password" });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toMatchObject({ code: "wrong_password", field: "password" });
    expect((await storedAuth(cookie)).authAt).toBe(aged);

    const before = Date.now();
    const ok = await request(t.app).post("/auth/reauthenticate").set("Cookie", cookie).send({ password });
    expect(ok.status).toBe(204);
    const auth = await storedAuth(cookie); // the same cookie, the same stored session
    expect(auth.authAt).toBeGreaterThanOrEqual(before);
    expect(auth.amr).toEqual(["pwd"]);
    await request(t.app).get("/auth/me").set("Cookie", cookie).expect(200);
  });

  it("answers 401 without a session and 400 for a body without a password", async () => {
    const anonymous = await request(t.app).post("/auth/reauthenticate").send({ password: "whatever-123" });
    expect(anonymous.status).toBe(401);
    const { cookie } = await registerUser(t);
    const bad = await request(t.app).post("/auth/reauthenticate").set("Cookie", cookie).send({ pass: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
  });
});

describe("the confirmation page", () => {
  const form = (cookie: string, body: Record<string, string>) =>
    request(t.app).post("/account/confirm").set("Cookie", cookie).type("form").send(body);

  it("asks for the password, then returns to the page it came from, never to another site", async () => {
    const { cookie, password } = await registerUser(t);
    const page = await request(t.app).get("/account/confirm?next=/account").set("Cookie", cookie);
    expect(page.status).toBe(200);
    expect(page.text).toContain('name="password"');
    expect(page.text).toContain('name="next" value="/account"');

    const aged = await ageAuthentication(t, cookie);
    const wrong = await form(cookie, { password: "not my password", next: "/account" });
    expect(wrong.status).toBe(403);
    expect(wrong.text).toContain("The current password is incorrect");
    expect((await storedAuth(cookie)).authAt).toBe(aged);

    const back = await form(cookie, { password, next: "/account" });
    expect(back.status).toBe(303);
    expect(back.headers.location).toBe("/account");
    expect((await storedAuth(cookie)).authAt).toBeGreaterThan(aged);

    const elsewhere = await form(cookie, { password, next: "https://evil.example/" });
    expect(elsewhere.headers.location).toBe("/account");
  });

  it("sends a visitor without a session to the login page", async () => {
    const res = await request(t.app).get("/account/confirm");
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/login");
  });
});
