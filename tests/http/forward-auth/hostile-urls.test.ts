import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../helpers/app.js";
import { registerUser, testApp } from "../../helpers/fixtures.js";
import {
  ALLOWED_PATHS,
  HOSTILE_HEADER_ONLY_PATHS,
  HOSTILE_HOSTS,
  HOSTILE_NEXT,
  HOSTILE_PATHS,
  NEXT_ORIGINS,
  SAFE_NEXT,
} from "../../helpers/hostile-urls.js";
import { uniqueEmail } from "../../helpers/session.js";

const PASSWORD = "correct horse battery";

describe("hostile next values through the login and registration routes", () => {
  let t: TestApp;
  let email: string;
  beforeAll(async () => {
    t = await testApp({
      env: {
        APP_ORIGIN: NEXT_ORIGINS[0] as string,
        FORWARD_AUTH_ALLOWED_ORIGINS: NEXT_ORIGINS[1] as string,
        RATE_LIMIT_LOGIN_LIMIT: "10000",
        RATE_LIMIT_GLOBAL_LIMIT: "10000",
      },
    });
    email = (await registerUser(t)).email;
  });

  it(`has a corpus of at least 60 (${HOSTILE_NEXT.length})`, () => {
    expect(HOSTILE_NEXT.length).toBeGreaterThanOrEqual(60);
  });

  it.each(HOSTILE_NEXT.map((next) => [JSON.stringify(next).slice(0, 60), next]))(
    "drops %s: POST /login goes to /account, /auth/login and /auth/register name no next",
    async (_name, next) => {
      const page = await request(t.app)
        .post("/login")
        .type("form")
        .send(new URLSearchParams({ email, password: PASSWORD, next }).toString());
      expect(page.status).toBe(303);
      expect(page.headers.location).toBe("/account");

      const json = await request(t.app).post("/auth/login").send({ email, password: PASSWORD, next });
      expect(json.status).toBe(200);
      expect(json.body).not.toHaveProperty("next");

      const created = await request(t.app)
        .post("/auth/register")
        .send({ email: uniqueEmail("next"), password: PASSWORD, next });
      expect(created.status).toBe(201);
      expect(created.body).not.toHaveProperty("next");
    },
  );

  it.each(SAFE_NEXT)("follows %j to %s in its canonical form", async (next, expected) => {
    const page = await request(t.app)
      .post("/login")
      .type("form")
      .send(new URLSearchParams({ email, password: PASSWORD, next }).toString());
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe(expected);
    const json = await request(t.app).post("/auth/login").send({ email, password: PASSWORD, next });
    expect(json.body.next).toBe(expected);
  });
});

describe("hostile forwarded paths and hosts against GET /auth/verify", () => {
  let t: TestApp;
  let outsider: string;
  let insider: string;
  beforeAll(async () => {
    t = await testApp({
      env: {
        // Everyone everywhere, except /admin on app.example.com: a fall-through would show as 200.
        FORWARD_AUTH_RULES: "app.example.com/, app.example.com/admin=@corp.example.com, *",
        RATE_LIMIT_LOGIN_LIMIT: "1000",
        // Email and domain rules admit confirmed addresses only.
        EMAIL_VERIFICATION: "optional",
        MAIL_OUTBOX_DIR: join(tmpdir(), "hostile-urls-outbox"),
      },
    });
    outsider = (await registerUser(t)).cookie;
    const boss = await registerUser(t, { email: uniqueEmail("boss").replace(/@.*/, "@corp.example.com") });
    await t.services.users.markEmailVerified(boss.res.body.user.id, boss.email);
    insider = boss.cookie;
  });

  const verify = (cookie: string, uri: string, host = "app.example.com", proto = "https") =>
    request(t.app)
      .get("/auth/verify")
      .set({ "X-Forwarded-Proto": proto, "X-Forwarded-Host": host, "X-Forwarded-Uri": uri, Cookie: cookie });

  const corpus = [...HOSTILE_PATHS, ...HOSTILE_HEADER_ONLY_PATHS];
  it(`has a corpus of at least 60 paths (${corpus.length}) and hosts (${HOSTILE_HOSTS.length})`, () => {
    expect(corpus.length).toBeGreaterThanOrEqual(60);
  });

  it.each(corpus.map((uri) => [JSON.stringify(uri), uri]))("refuses %s to the outsider", async (_n, uri) => {
    const res = await verify(outsider, uri);
    expect(res.status).toBe(403);
    expect(["forbidden", "ambiguous_url"]).toContain(res.body.error.code);
    expect(res.headers["x-auth-user-id"]).toBeUndefined();
  });

  it.each(HOSTILE_HOSTS)("refuses /admin on host %j (%s) to the outsider", async (host, proto) => {
    const res = await verify(outsider, "/admin/secret.txt", host, proto);
    expect(res.status).toBe(403);
  });

  it("answers ambiguous_url for an unreadable path or host, and only where a rule could tell", async () => {
    const refused = await verify(outsider, "/public/..%2fadmin/x");
    expect(refused.body.error.code).toBe("ambiguous_url");
    expect((await verify(outsider, "/x", "user@app.example.com")).body.error.code).toBe("ambiguous_url");
    // Another host, where only `*` (every path) applies: the path changes nothing, so it passes.
    await verify(outsider, "/public/..%2fadmin/x", "other.example.com").expect(200);
  });

  it.each(ALLOWED_PATHS)("lets the outsider reach %s", async (uri) => {
    await verify(outsider, uri).expect(200);
  });

  it("lets the insider reach /admin in any spelling that has one reading", async () => {
    await verify(insider, "/admin/secret.txt").expect(200);
    await verify(insider, "/%61dmin/secret.txt").expect(200);
    await verify(insider, "/ADMIN/secret.txt", "APP.example.com.:443").expect(200);
    await verify(insider, "/admin;x/secret.txt").expect(403);
  });

  it("sends an anonymous browser to the login page, with a way back only for a canonical target", async () => {
    const browser = (uri: string) =>
      request(t.app)
        .get("/auth/verify")
        .set({
          "X-Forwarded-Proto": "https",
          "X-Forwarded-Host": "App.Example.com.:443",
          "X-Forwarded-Uri": uri,
        })
        .set("Accept", "text/html");
    const plain = await browser("/%61dmin/x?y=1").expect(401);
    expect(plain.headers.location).toBe(
      `/login?next=${encodeURIComponent("https://app.example.com/admin/x?y=1")}`,
    );
    for (const uri of ["/public/../admin", "//evil.example/x", "/a%2fb"]) {
      const res = await browser(uri).expect(401);
      expect(res.headers.location, uri).toBe("/login");
    }
  });
});
