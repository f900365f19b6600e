import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../helpers/app.js";
import { registerUser, TEST_PASSWORD, testApp } from "../../helpers/fixtures.js";
import { sessionCookie, uniqueEmail } from "../../helpers/session.js";

const DEVICE = "device"; // the default name without COOKIE_SECURE

let direct: TestApp;
let proxied: TestApp;

beforeAll(async () => {
  const limits = {
    RATE_LIMIT_LOGIN_LIMIT: "4", // per address
    RATE_LIMIT_LOGIN_KNOWN_DEVICE_LIMIT: "3", // per known device, in place of the address' budget
    RATE_LIMIT_LOGIN_KNOWN_DEVICE_WINDOW_SECONDS: "900",
    RATE_LIMIT_LOGIN_ACCOUNT_LIMIT: "50",
  };
  [direct, proxied] = await Promise.all([
    testApp({ env: { ...limits, TRUST_PROXY: "false" } }),
    testApp({ env: { ...limits, TRUST_PROXY: "1" } }),
  ]);
});

const deviceOf = (res: request.Response) => {
  const value = sessionCookie(res, DEVICE);
  if (!value) throw new Error("no device cookie");
  return value;
};

function loginFrom(t: TestApp, body: { email: string; password: string }, headers: Record<string, string>) {
  return request(t.app).post("/auth/login").set(headers).send(body);
}

describe("a known device is not stopped by its address' login limit", () => {
  it.each([
    ["clients connect directly (TRUST_PROXY=false)", () => direct, (_ip: string) => ({})],
    [
      "behind a proxy, one spoofed address (TRUST_PROXY=1)",
      () => proxied,
      (ip: string) => ({ "X-Forwarded-For": ip }),
    ],
  ])(
    "%s: the owner's device with the right password signs in; its own budget holds",
    async (_name, app, from) => {
      const t = app();
      const flooded = "203.0.113.66";
      const owner = await registerUser(t, { headers: from("198.51.100.1") });
      const device = deviceOf(owner.res);
      // Someone floods the owner's address with wrong logins (for other accounts and this one) until 429.
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const email = i % 2 ? owner.email : uniqueEmail("nobody");
        statuses.push((await loginFrom(t, { email, password: "wrong password" }, from(flooded))).status);
      }
      expect(statuses).toContain(401);
      expect(statuses.at(-1)).toBe(429);
      // A forged or stale device cookie is no way around it: the address limit still counts.
      const forged = await loginFrom(
        t,
        { email: owner.email, password: TEST_PASSWORD },
        { ...from(flooded), Cookie: `${DEVICE}=d1.${"x".repeat(36)}.abc.1.mac` },
      );
      expect(forged.status).toBe(429);

      // The owner's browser, on that address, with the right password: signed in.
      const signedIn = await loginFrom(
        t,
        { email: owner.email, password: TEST_PASSWORD },
        { ...from(flooded), Cookie: device },
      );
      expect(signedIn.status).toBe(200);
      expect(sessionCookie(signedIn, t.config.session.cookieName)).toBeDefined();

      // The device's own budget (3) holds: two more attempts pass, the next is 429, on any address.
      const again = deviceOf(signedIn);
      for (const [i, expected] of [
        [1, 200],
        [2, 200],
        [3, 429],
      ] as const) {
        const res = await loginFrom(
          t,
          { email: owner.email, password: TEST_PASSWORD },
          { ...from(`198.51.100.${10 + i}`), Cookie: again },
        );
        expect(res.status).toBe(expected);
      }
    },
  );

  it("the login page gives a known device the same exemption", async () => {
    const owner = await registerUser(proxied, { headers: { "X-Forwarded-For": "198.51.100.2" } });
    const device = deviceOf(owner.res);
    const page = (cookie?: string) => {
      const req = request(proxied.app).post("/login").type("form").set("X-Forwarded-For", "203.0.113.77");
      if (cookie) req.set("Cookie", cookie);
      return req.send({ email: owner.email, password: cookie ? TEST_PASSWORD : "wrong password" });
    };
    for (let i = 0; i < 4; i++) expect((await page()).status).toBe(401);
    expect((await page()).status).toBe(429);
    const signedIn = await page(device);
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.location).toBe("/account");
  });
});
