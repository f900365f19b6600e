import type { Request } from "express";
import request from "supertest";
import { describe, expect, it, vi } from "vitest";
import { ConfigError, type Env, loadConfig } from "../../../server/config/config.js";
import { isAllowed, parseRules } from "../../../server/config/forward-auth-rules.js";
import { publicSessionId } from "../../../server/domain/session/session-index.js";
import { safeNext } from "../../../server/http/forward-auth/safe-next.js";
import type { Database } from "../../../server/infra/db/database.js";
import { testEnv } from "../../helpers/app.js";
import {
  isolatedDatabase,
  login,
  privateRedisServer,
  registerUser,
  testApp,
  testRedisClient,
} from "../../helpers/fixtures.js";
import { commandCalls, commandDiff } from "../../helpers/redis-stats.js";
import { sessionCookieLine, sessionIdOf } from "../../helpers/session.js";

function configProblems(env: Env): string[] {
  try {
    loadConfig(testEnv(env));
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

/** The headers a proxy sends along with the visitor's own (Cookie, Accept). */
const forwarded = (host: string, uri: string, method = "GET") => ({
  "X-Forwarded-Proto": "https",
  "X-Forwarded-Host": host,
  "X-Forwarded-Uri": uri,
  "X-Forwarded-Method": method,
});

describe("configuration", () => {
  it("names every bad forward-auth variable", () => {
    const problems = configProblems({
      FORWARD_AUTH_ALLOWED_ORIGINS: "https://ok.example, not a url, https://x.example/path",
      FORWARD_AUTH_RULES: "app.example.com/, admin.example.com/=not-an-email",
      FORWARD_AUTH_LOGIN_URL: "//evil.example/login",
      FORWARD_AUTH_HEADER_PREFIX: "X Auth",
      COOKIE_DOMAIN: "https://example.com",
    });
    expect(problems.filter((p) => p.startsWith("FORWARD_AUTH_ALLOWED_ORIGINS:"))).toHaveLength(2);
    for (const name of [
      "FORWARD_AUTH_RULES",
      "FORWARD_AUTH_LOGIN_URL",
      "FORWARD_AUTH_HEADER_PREFIX",
      "COOKIE_DOMAIN",
    ])
      expect(
        problems.some((p) => p.startsWith(`${name}:`)),
        name,
      ).toBe(true);
  });

  it("refuses email and domain rules with EMAIL_VERIFICATION=off: they admit confirmed addresses only", () => {
    const rules = "app.example.com/, app.example.com/admin=@example.com";
    expect(configProblems({ FORWARD_AUTH_RULES: rules, EMAIL_VERIFICATION: "off" })).toEqual([
      expect.stringMatching(/^FORWARD_AUTH_RULES: .*EMAIL_VERIFICATION=optional or required/),
    ]);
    expect(configProblems({ FORWARD_AUTH_RULES: rules, EMAIL_VERIFICATION: "optional" })).toEqual([]);
    expect(configProblems({ FORWARD_AUTH_RULES: "app.example.com/", EMAIL_VERIFICATION: "off" })).toEqual([]);
  });

  it("checks rules, origins and the login URL with the same canonical form as requests", () => {
    const rules = (value: string) =>
      configProblems({ FORWARD_AUTH_RULES: value, EMAIL_VERIFICATION: "optional" }).filter((p) =>
        p.startsWith("FORWARD_AUTH_RULES:"),
      );
    for (const bad of [
      "app.example.com/admin/../x",
      "app.example.com//admin",
      "app.example.com/ad%2fmin",
      "app.example.com/admin;x",
      "app.example.com/%61dmin",
      "app.example.com/admin?x=1",
      "app.example.com:443/admin",
      "user@app.example.com/",
      "app.example.com../",
    ])
      expect(rules(bad), bad).toHaveLength(1);
    expect(rules("App.Example.com./Admin, app.example.com:8443/x=@corp.example.com, */status")).toEqual([]);
    expect(
      parseRules("App.Example.com./Admin, bücher.example/", []).map((r) => `${r.host}${r.pathPrefix}`),
    ).toEqual(["app.example.com/Admin", "xn--bcher-kva.example/"]);

    const origins = configProblems({
      FORWARD_AUTH_ALLOWED_ORIGINS:
        "https://@app.example.com, https:app.example.com, https://app.example.com:443",
      APP_ORIGIN: "https://user@app.example.com",
      FORWARD_AUTH_LOGIN_URL: "/.//evil.example/login",
    });
    expect(origins.filter((p) => p.startsWith("FORWARD_AUTH_ALLOWED_ORIGINS:"))).toHaveLength(2);
    expect(origins.some((p) => p.startsWith("APP_ORIGIN:"))).toBe(true);
    expect(origins.some((p) => p.startsWith("FORWARD_AUTH_LOGIN_URL:"))).toBe(true);
  });

  it("refuses COOKIE_DOMAIN with a __Host- cookie name, explicit or the secure default", () => {
    const implicit = configProblems({ COOKIE_DOMAIN: "example.com", COOKIE_SECURE: "true" });
    expect(implicit).toEqual([expect.stringMatching(/^COOKIE_DOMAIN: .*__Host-.*SESSION_COOKIE_NAME/)]);
    const explicit = configProblems({
      COOKIE_DOMAIN: "example.com",
      COOKIE_SECURE: "true",
      SESSION_COOKIE_NAME: "__Host-session",
    });
    expect(explicit).toHaveLength(1);
    expect(
      configProblems({
        COOKIE_DOMAIN: "example.com",
        COOKIE_SECURE: "true",
        SESSION_COOKIE_NAME: "__Secure-sid",
      }),
    ).toEqual([]);
  });

  it("sets the cookie for the whole domain with COOKIE_DOMAIN, and clears it there on logout", async () => {
    const t = await testApp({ env: { COOKIE_DOMAIN: ".Example.com" } });
    const { cookie, res } = await registerUser(t);
    expect(sessionCookieLine(res, t.config.session.cookieName)).toMatch(/; Domain=example\.com;/);
    const out = await request(t.app).post("/auth/logout").set("Cookie", cookie).expect(204);
    expect(sessionCookieLine(out, t.config.session.cookieName)).toMatch(
      /; Domain=example\.com;.*Expires=Thu, 01 Jan 1970/,
    );
  });
});

describe("safe next", () => {
  const allowed = ["https://app.example.com", "https://partner.example.org"];
  it.each([
    ["/reports?x=1#top", "/reports?x=1#top"],
    ["https://app.example.com/a/b?c=d", "https://app.example.com/a/b?c=d"],
    ["https://partner.example.org/", "https://partner.example.org/"],
  ])("follows %s", (value, expected) => {
    expect(safeNext(value, allowed)).toBe(expected);
  });

  it.each([
    "//evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\n/evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,hi",
    "https://evil.example/",
    "https://app.example.com.evil.example/",
    "https://user:pw@app.example.com/",
    "http://app.example.com/",
    "evil.example",
    "",
    "x".repeat(3000),
  ])("drops %s", (value) => {
    expect(safeNext(value, allowed)).toBeUndefined();
  });

  it("follows the request's own origin (the proxied host), as the proxy presents it", () => {
    const req = { protocol: "https", host: "svc.example.net" } as Request;
    expect(safeNext("https://svc.example.net/x", allowed, req)).toBe("https://svc.example.net/x");
    expect(safeNext("https://other.example.net/x", allowed, req)).toBeUndefined();
  });

  it("drops a path with an encoded slash, which a backend could decode to a scheme-relative URL", () => {
    expect(safeNext("/%2F%2Fevil.example", allowed)).toBeUndefined();
  });
});

describe("next through the login and registration pages", () => {
  const form = (body: Record<string, string>) => new URLSearchParams(body).toString();

  it("keeps a safe next through the login page, the registration link and the form", async () => {
    const t = await testApp({ env: { FORWARD_AUTH_ALLOWED_ORIGINS: "https://svc.example.net" } });
    const next = "https://svc.example.net/reports?a=1&b=2";
    const page = await request(t.app)
      .get(`/login?next=${encodeURIComponent(next)}`)
      .expect(200);
    expect(page.text).toContain('name="next" value="https://svc.example.net/reports?a=1&amp;b=2"');
    expect(page.text).toContain(`href="/register?next=${encodeURIComponent(next).replace(/&/g, "&amp;")}"`);

    const reg = await request(t.app)
      .get(`/register?next=${encodeURIComponent(next)}`)
      .expect(200);
    expect(reg.text).toContain('name="next" value="https://svc.example.net/reports?a=1&amp;b=2"');
    const email = `next-${Date.now()}@example.com`;
    const created = await request(t.app)
      .post("/register")
      .type("form")
      .send(form({ email, password: "correct horse battery", next }))
      .expect(303);
    expect(created.headers.location).toBe(next);

    const json = await request(t.app)
      .post("/auth/login")
      .send({ email, password: "correct horse battery", next })
      .expect(200);
    expect(json.body.next).toBe(next);
    const foreign = await request(t.app)
      .post("/auth/login")
      .send({ email, password: "correct horse battery", next: "https://evil.example/" })
      .expect(200);
    expect(foreign.body.next).toBeUndefined();

    // Already logged in: the login page sends the browser straight on.
    const cookie = String(json.headers["set-cookie"]?.[0]).split(";")[0] as string;
    const again = await request(t.app)
      .get(`/login?next=${encodeURIComponent(next)}`)
      .set("Cookie", cookie);
    expect(again.status).toBe(303);
    expect(again.headers.location).toBe(next);
  });

  it("drops an unsafe next from the page and after a failed login", async () => {
    const t = await testApp();
    const page = await request(t.app)
      .get(`/login?next=${encodeURIComponent("//evil.example/")}`)
      .expect(200);
    expect(page.text).not.toContain('name="next"');
    expect(page.text).not.toContain("evil.example");
    const failed = await request(t.app)
      .post("/login")
      .type("form")
      .send(form({ email: "nobody@example.com", password: "wrong password!", next: "/inside" }))
      .expect(401);
    expect(failed.text).toContain('name="next" value="/inside"');
  });
});

describe("rules", () => {
  const rules = parseRules(
    "app.example.com/, admin.example.com/=@example.com|ops@partner.org, app.example.com/billing=boss@example.com, */status",
    [],
  );
  it.each([
    ["app.example.com", "/anything", "a@b.org", true],
    ["app.example.com", "/billing/2026", "a@b.org", false],
    ["app.example.com", "/billing/2026", "boss@example.com", true],
    ["app.example.com", "/billingx", "a@b.org", true],
    ["admin.example.com", "/", "x@example.com", true],
    ["admin.example.com", "/", "ops@partner.org", true],
    ["admin.example.com", "/", "x@evil-example.com", false],
    ["other.example.com", "/status", "a@b.org", true],
    ["other.example.com", "/", "a@b.org", false],
  ])("%s%s for %s: %s", (host, path, email, expected) => {
    expect(isAllowed(rules, host, path, email)).toBe(expected);
  });
  it("allows everything without rules", () => {
    expect(isAllowed([], "any", "/", "a@b.org")).toBe(true);
  });
});

describe("GET /auth/verify", () => {
  it("answers 200 with the identity headers, the session id as its public id", async () => {
    const t = await testApp();
    const { cookie, email, res } = await registerUser(t);
    const ok = await request(t.app)
      .get("/auth/verify")
      .set(forwarded("svc.example.net", "/x"))
      .set("Cookie", cookie)
      .expect(200);
    expect(ok.headers["x-auth-user-id"]).toBe(res.body.user.id);
    expect(ok.headers["x-auth-user-email"]).toBe(email);
    expect(ok.headers["x-auth-session-id"]).toBe(publicSessionId(sessionIdOf(cookie)));
    expect(ok.headers["cache-control"]).toBe("no-store");
    // The same id the session list shows.
    const list = await request(t.app).get("/auth/sessions").set("Cookie", cookie).expect(200);
    expect(list.body.sessions[0].id).toBe(ok.headers["x-auth-session-id"]);
  });

  it("sends a non-ASCII address percent-encoded (header values are bytes)", async () => {
    const t = await testApp();
    const email = `用户-${Date.now()}@例子.example`;
    const { cookie } = await registerUser(t, { email });
    const ok = await request(t.app).get("/auth/verify").set("Cookie", cookie).expect(200);
    // Stored (and sent) in its normal form: the international domain in punycode, the local part as is.
    const stored = email.replace("例子.example", "xn--fsqu00a.example");
    expect(ok.headers["x-auth-user-email"]).toBe(encodeURIComponent(stored));
    expect(decodeURIComponent(ok.headers["x-auth-user-email"] as string)).toBe(stored);
  });

  it("uses FORWARD_AUTH_HEADER_PREFIX for the header names", async () => {
    const t = await testApp({ env: { FORWARD_AUTH_HEADER_PREFIX: "X-Remote-" } });
    const { cookie, email } = await registerUser(t);
    const ok = await request(t.app).get("/auth/verify").set("Cookie", cookie).expect(200);
    expect(ok.headers["x-remote-user-email"]).toBe(email);
    expect(ok.headers["x-auth-user-email"]).toBeUndefined();
  });

  it("answers 401 as JSON to an API client, and with the login page and `next` to a browser", async () => {
    const t = await testApp();
    const api = await request(t.app)
      .get("/auth/verify")
      .set(forwarded("svc.example.net", "/api/x"))
      .set("Accept", "application/json")
      .expect(401);
    expect(api.body.error.code).toBe("unauthenticated");
    expect(api.headers.location).toBeUndefined();

    const page = await request(t.app)
      .get("/auth/verify")
      .set(forwarded("svc.example.net", "/reports?m=11"))
      .set("Accept", "text/html,*/*;q=0.8")
      .expect(401);
    const expected = `/login?next=${encodeURIComponent("https://svc.example.net/reports?m=11")}`;
    expect(page.headers.location).toBe(expected);
    expect(page.body.error.login).toBe(expected);

    // A form post cannot be replayed by a redirect: the login page without a way back.
    const post = await request(t.app)
      .get("/auth/verify")
      .set(forwarded("svc.example.net", "/form", "POST"))
      .set("Accept", "text/html")
      .expect(401);
    expect(post.headers.location).toBe("/login");
  });

  it("sends browsers to FORWARD_AUTH_LOGIN_URL on another host", async () => {
    const t = await testApp({ env: { FORWARD_AUTH_LOGIN_URL: "https://auth.example.net/login" } });
    const page = await request(t.app)
      .get("/auth/verify")
      .set(forwarded("svc.example.net", "/"))
      .set("Accept", "text/html")
      .expect(401);
    expect(page.headers.location).toBe(
      `https://auth.example.net/login?next=${encodeURIComponent("https://svc.example.net/")}`,
    );
  });

  it("answers 403 to a valid session the rules refuse, also through dot segments", async () => {
    const t = await testApp({
      env: {
        FORWARD_AUTH_RULES: "svc.example.net/, svc.example.net/admin=boss@example.com",
        EMAIL_VERIFICATION: "optional",
      },
    });
    const { cookie } = await registerUser(t);
    const verify = (host: string, uri: string) =>
      request(t.app).get("/auth/verify").set(forwarded(host, uri)).set("Cookie", cookie);
    await verify("svc.example.net", "/reports").expect(200);
    const refused = await verify("svc.example.net", "/admin/users").expect(403);
    expect(refused.body.error.code).toBe("forbidden");
    expect(refused.headers["x-auth-user-id"]).toBeUndefined();
    await verify("svc.example.net", "/public/../admin").expect(403);
    await verify("svc.example.net", "/public/%2e%2e/admin").expect(403);
    // nginx setups that send X-Original-URI instead of X-Forwarded-Uri get the same decision.
    await request(t.app)
      .get("/auth/verify")
      .set({
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "svc.example.net",
        "X-Original-URI": "/ADMIN/x",
      })
      .set("Cookie", cookie)
      .expect(403);
    await verify("other.example.net", "/").expect(403);
  });

  it("is counted by neither the per-user API limit nor the per-address limit", async () => {
    const t = await testApp({ env: { RATE_LIMIT_API_LIMIT: "2", RATE_LIMIT_GLOBAL_LIMIT: "5" } });
    const { cookie } = await registerUser(t);
    for (let i = 0; i < 12; i++) {
      const res = await request(t.app).get("/auth/verify").set("Cookie", cookie);
      expect(res.status).toBe(200);
      expect(res.headers["ratelimit-policy"]).toBeUndefined();
    }
    // The API limit of 2 is untouched: two calls pass (404: no such route), the third is limited.
    await request(t.app).get("/api/anything").set("Cookie", cookie).expect(404);
    await request(t.app).get("/api/anything").set("Cookie", cookie).expect(404);
    await request(t.app).get("/api/anything").set("Cookie", cookie).expect(429);
  });

  it("ends the other devices' sessions when the password changes", async () => {
    const t = await testApp();
    const { cookie, email, password } = await registerUser(t);
    const other = await login(t, email);
    await request(t.app).get("/auth/verify").set("Cookie", other.cookie).expect(200);
    await request(t.app)
      .post("/auth/password")
      .set("Cookie", cookie)
      .send({ currentPassword: password, newPassword: "another horse battery" })
      .expect(204);
    await request(t.app).get("/auth/verify").set("Cookie", other.cookie).expect(401);
  });

  it("ends with the session: 401 right after logout and after revocation from another device", async () => {
    const t = await testApp();
    const { cookie, email } = await registerUser(t);
    const other = await login(t, email);
    await request(t.app).get("/auth/verify").set("Cookie", cookie).expect(200);
    const id = (await request(t.app).get("/auth/verify").set("Cookie", other.cookie)).headers[
      "x-auth-session-id"
    ];
    await request(t.app).delete(`/auth/sessions/${id}`).set("Cookie", cookie).expect(204);
    await request(t.app).get("/auth/verify").set("Cookie", other.cookie).expect(401);
    await request(t.app).post("/auth/logout").set("Cookie", cookie).expect(204);
    await request(t.app).get("/auth/verify").set("Cookie", cookie).expect(401);
  });
});

describe("cost and faults of a verify call (private Redis)", () => {
  async function setup(env: Env = {}) {
    const redis = await privateRedisServer();
    const database = await isolatedDatabase();
    let queries = 0;
    const db: Database = {
      ...database.db,
      query: (sql, params) => {
        queries++;
        return database.db.query(sql, params);
      },
    };
    const t = await testApp({ db, env: { REDIS_URL: redis.url, ...env } });
    const client = await testRedisClient({ port: redis.port });
    return { t, redis, client, queries: () => queries };
  }

  it("costs one Redis command and no database query, and extends the session", async () => {
    const { t, client, queries } = await setup({ SESSION_TOUCH_FRACTION: "0.5", SESSION_TTL_SECONDS: "600" });
    const { cookie } = await registerUser(t);
    await request(t.app).get("/auth/verify").set("Cookie", cookie).expect(200); // loads the script and the user
    const before = await commandCalls(client);
    const dbBefore = queries();
    const n = 20;
    for (let i = 0; i < n; i++) await request(t.app).get("/auth/verify").set("Cookie", cookie).expect(200);
    const diff = commandDiff(before, await commandCalls(client));
    // The app sends one EVALSHA (read the session, extend it when due); GET and PTTL run inside it.
    expect(diff.commands).toEqual({ evalsha: n, get: n, pttl: n });
    expect(queries() - dbBefore).toBe(0);

    // Past half its lifetime, a verify call pushes the expiry back to the full idle timeout.
    const key = `${t.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;
    await client.pexpire(key, 100_000);
    await request(t.app).get("/auth/verify").set("Cookie", cookie).expect(200);
    expect(await client.pttl(key)).toBeGreaterThan(590_000);
  });

  it("answers 503 with Retry-After while Redis is frozen and the same cookie works after", async () => {
    const { t, redis } = await setup({ REDIS_COMMAND_TIMEOUT_MS: "200", REDIS_STALL_TIMEOUT_MS: "5000" });
    const { cookie } = await registerUser(t);
    await request(t.app).get("/auth/verify").set("Cookie", cookie).expect(200);
    redis.freeze();
    try {
      const started = Date.now();
      const res = await request(t.app).get("/auth/verify").set("Cookie", cookie);
      expect(res.status).toBe(503);
      expect(res.headers["retry-after"]).toBeDefined();
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      redis.thaw();
    }
    await vi.waitFor(
      async () => {
        const res = await request(t.app).get("/auth/verify").set("Cookie", cookie);
        expect(res.status).toBe(200);
      },
      { timeout: 10_000, interval: 100 },
    );
  });
});
