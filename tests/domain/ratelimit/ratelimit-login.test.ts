import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../helpers/app.js";
import { testApp } from "../../helpers/fixtures.js";
import { sleep } from "../../helpers/sleep.js";

let t: TestApp;

beforeAll(async () => {
  t = await testApp({
    env: {
      TRUST_PROXY: "1",
      // 5 failures per 10 s: the lock lasts one unit, 2 s, so the test takes seconds.
      RATE_LIMIT_LOGIN_ACCOUNT_LIMIT: "5",
      RATE_LIMIT_LOGIN_ACCOUNT_WINDOW_SECONDS: "10",
      RATE_LIMIT_LOGIN_LIMIT: "3",
    },
  });
});

const login = (ip: string, email: string, password: string) =>
  request(t.app).post("/auth/login").set("X-Forwarded-For", ip).send({ email, password });

describe("login-account: failed logins per account across addresses", () => {
  it("locks the account after 5 failures from 5 addresses, even for the right password, then recovers", async () => {
    const email = `victim-${Date.now()}@example.com`;
    await request(t.app)
      .post("/auth/register")
      .set("X-Forwarded-For", "192.0.2.200")
      .send({ email, password: "correct horse" })
      .expect(201);

    for (let i = 1; i <= 5; i++) {
      const res = await login(`10.0.0.${i}`, email, `wrong-${i}`);
      expect(res.status).toBe(401);
    }
    // Sixth address, differently spelled email: the same account.
    const sixth = await login("10.0.0.6", ` ${email.toUpperCase()} `, "wrong-6");
    expect(sixth.status).toBe(429);
    expect(sixth.body.error).toMatchObject({ code: "rate_limited", retryAfter: expect.any(Number) });
    expect([1, 2]).toContain(sixth.body.error.retryAfter); // one unit: 10 s / 5
    expect(sixth.headers["retry-after"]).toBe(String(sixth.body.error.retryAfter));

    // The right password is refused the same way: a guess cannot be confirmed during the lock.
    const right = await login("10.0.0.7", email, "correct horse");
    expect(right.status).toBe(429);
    expect(right.body.error.code).toBe("rate_limited");
    expect(Object.keys(right.body.error).sort()).toEqual(Object.keys(sixth.body.error).sort());

    await sleep(Number(right.headers["retry-after"]) * 1000);
    const after = await login("10.0.0.8", email, "correct horse");
    expect(after.status).toBe(200);

    // The success cleared the failures: five more wrong passwords are answered 401 again, the sixth 429.
    for (let i = 1; i <= 5; i++) expect((await login(`10.0.1.${i}`, email, "nope")).status).toBe(401);
    expect((await login("10.0.1.6", email, "nope")).status).toBe(429);
  });

  it("does not lock other accounts", async () => {
    const email = `bystander-${Date.now()}@example.com`;
    await request(t.app)
      .post("/auth/register")
      .set("X-Forwarded-For", "192.0.2.201")
      .send({ email, password: "correct horse" })
      .expect(201);
    for (let i = 1; i <= 5; i++) await login(`10.0.2.${i}`, `other-${Date.now()}@example.com`, "x");
    expect((await login("10.0.2.9", email, "correct horse")).status).toBe(200);
  });
});

describe("login: attempts per address", () => {
  it("limits POST /auth/login and /auth/register per client address", async () => {
    const ip = "198.51.100.77";
    const a = await login(ip, "a@example.com", "x");
    expect(a.status).toBe(401);
    expect(a.headers["ratelimit-policy"]).toBe('"global";q=300;w=60, "login";q=3;w=900');
    expect(a.headers.ratelimit).toMatch(/, "login";r=2;t=300$/);
    await login(ip, "b@example.com", "x").expect(401);
    await request(t.app)
      .post("/auth/register")
      .set("X-Forwarded-For", ip)
      .send({ email: `c-${Date.now()}@example.com`, password: "correct horse" })
      .expect(201);
    const limited = await login(ip, "d@example.com", "x");
    expect(limited.status).toBe(429);
    expect(limited.headers["retry-after"]).toBe("300");
    // Other addresses are unaffected, and GET requests are not counted as login attempts.
    await login("198.51.100.78", "a@example.com", "x").expect(401);
    await request(t.app).get("/auth/me").set("X-Forwarded-For", ip).expect(401);
  });
});
