import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/config/config.js";
import { type TestApp, testEnv } from "../helpers/app.js";
import { testApp } from "../helpers/fixtures.js";

let t: TestApp;
let proxied: TestApp;
let configured: TestApp;

beforeAll(async () => {
  t = await testApp();
  proxied = await testApp({ env: { TRUST_PROXY: "1" } });
  configured = await testApp({ env: { APP_ORIGIN: "https://app.example.com" } });
});

type Headers = Record<string, string>;
const HOST = "app.test";

/** POST /auth/logout is state-changing and answers 204 to anyone it lets through. */
function post(app: TestApp, headers: Headers) {
  const req = request(app.app).post("/auth/logout").set("Host", HOST);
  for (const [k, v] of Object.entries(headers)) req.set(k, v);
  return req;
}

describe("state-changing requests and browser headers", () => {
  const cases: Array<[string, Headers, number]> = [
    ["no browser headers (server to server)", {}, 204],
    ["Sec-Fetch-Site: same-origin", { "Sec-Fetch-Site": "same-origin" }, 204],
    ["Sec-Fetch-Site: none (typed by the user)", { "Sec-Fetch-Site": "none" }, 204],
    ["Sec-Fetch-Site: same-site", { "Sec-Fetch-Site": "same-site" }, 403],
    ["Sec-Fetch-Site: cross-site", { "Sec-Fetch-Site": "cross-site" }, 403],
    [
      "Sec-Fetch-Site: cross-site wins over a matching Origin",
      { "Sec-Fetch-Site": "cross-site", Origin: `http://${HOST}` },
      403,
    ],
    ["Origin of the app itself", { Origin: `http://${HOST}` }, 204],
    ["Origin of another site", { Origin: "http://evil.test" }, 403],
    ["Origin with another scheme", { Origin: `https://${HOST}` }, 403],
    ["Origin with another port", { Origin: `http://${HOST}:8080` }, 403],
    ["Origin: null", { Origin: "null" }, 403],
    ["Referer from the app", { Referer: `http://${HOST}/login?x=1` }, 204],
    ["Referer from another site", { Referer: "http://evil.test/page" }, 403],
    ["Referer that is not a URL", { Referer: "garbage" }, 403],
    ["Origin checked before Referer", { Origin: "http://evil.test", Referer: `http://${HOST}/` }, 403],
  ];
  it.each(cases)("%s → %i", async (_name, headers, status) => {
    const res = await post(t, headers);
    expect(res.status).toBe(status);
    if (status === 403) {
      expect(res.body).toEqual({ error: { code: "csrf_rejected", message: expect.any(String) } });
    }
  });

  it("guards PUT, PATCH and DELETE too, and lets reads through", async () => {
    for (const method of ["put", "patch", "delete"] as const) {
      const res = await request(t.app)[method]("/auth/sessions/x").set("Sec-Fetch-Site", "cross-site");
      expect(res.status).toBe(403);
    }
    const read = await request(t.app).get("/auth/me").set("Sec-Fetch-Site", "cross-site");
    expect(read.status).toBe(401);
  });

  it("answers a page's form with an HTML error page", async () => {
    const res = await request(t.app)
      .post("/login")
      .set("Sec-Fetch-Site", "cross-site")
      .set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
      .type("form")
      .send({ email: "a@example.com", password: "whatever1" });
    expect(res.status).toBe(403);
    expect(res.headers["content-type"]).toMatch(/^text\/html/);
    expect(res.text).toContain("came from another site");
    expect(res.text).not.toMatch(/<script|style=/i);
  });
});

describe("the request's own origin behind a proxy", () => {
  const forwarded = { "X-Forwarded-Host": "app.example.com", "X-Forwarded-Proto": "https" };

  it("follows X-Forwarded-Host/-Proto from a trusted proxy", async () => {
    const res = await post(proxied, { ...forwarded, Origin: "https://app.example.com" });
    expect(res.status).toBe(204);
    const plain = await post(proxied, { ...forwarded, Origin: `http://${HOST}` });
    expect(plain.status).toBe(403);
  });

  it("ignores them when no proxy is trusted, so a client cannot vouch for its own origin", async () => {
    const spoofed = await post(t, { "X-Forwarded-Host": "evil.test", Origin: "http://evil.test" });
    expect(spoofed.status).toBe(403);
    const res = await post(t, { ...forwarded, Origin: "https://app.example.com" });
    expect(res.status).toBe(403);
  });
});

describe("APP_ORIGIN", () => {
  it("is the only origin accepted when set", async () => {
    expect((await post(configured, { Origin: "https://app.example.com" })).status).toBe(204);
    expect((await post(configured, { Referer: "https://app.example.com/account" })).status).toBe(204);
    expect((await post(configured, { Origin: `http://${HOST}` })).status).toBe(403);
  });

  it("lets a configured sibling front end post despite Sec-Fetch-Site: same-site", async () => {
    const ok = await post(configured, { "Sec-Fetch-Site": "same-site", Origin: "https://app.example.com" });
    expect(ok.status).toBe(204);
    const other = await post(configured, {
      "Sec-Fetch-Site": "same-site",
      Origin: "https://other.example.com",
    });
    expect(other.status).toBe(403);
  });

  it("is validated at boot, naming the variable", () => {
    for (const bad of [
      "app.example.com",
      "https://app.example.com/path",
      "ftp://x.test",
      "https://u:p@x.test",
    ]) {
      expect(() => loadConfig(testEnv({ APP_ORIGIN: bad }))).toThrow(ConfigError);
      expect(() => loadConfig(testEnv({ APP_ORIGIN: bad }))).toThrow(/APP_ORIGIN/);
    }
    expect(
      loadConfig(testEnv({ APP_ORIGIN: "https://a.example.com/, http://localhost:3000" })).appOrigins,
    ).toEqual(["https://a.example.com", "http://localhost:3000"]);
  });
});

describe("a refused request changes nothing", () => {
  it("leaves sessions and the password as they were", async () => {
    const email = `csrf-${Date.now()}@example.com`;
    const reg = await request(t.app).post("/auth/register").send({ email, password: "correct horse" });
    const cookie = String(reg.headers["set-cookie"]).split(";")[0] as string;
    const login = await request(t.app).post("/auth/login").send({ email, password: "correct horse" });
    const other = String(login.headers["set-cookie"]).split(";")[0] as string;
    const cross = { "Sec-Fetch-Site": "cross-site", Origin: "http://evil.test", Cookie: cookie };

    const attempts = [
      request(t.app).post("/auth/logout").set(cross),
      request(t.app).post("/auth/sessions/revoke-others").set(cross),
      request(t.app)
        .post("/auth/password")
        .set(cross)
        .send({ currentPassword: "correct horse", newPassword: "hijacked!!" }),
      request(t.app).post("/account/sessions/revoke-others").set(cross),
      request(t.app)
        .post("/account/password")
        .set(cross)
        .type("form")
        .send({ currentPassword: "correct horse", newPassword: "hijacked!!" }),
    ];
    for (const res of await Promise.all(attempts)) expect(res.status).toBe(403);

    for (const c of [cookie, other])
      expect((await request(t.app).get("/auth/me").set("Cookie", c)).status).toBe(200);
    const again = await request(t.app).post("/auth/login").send({ email, password: "correct horse" });
    expect(again.status).toBe(200);
  });
});
