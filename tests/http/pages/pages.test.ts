import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../helpers/app.js";
import { testApp } from "../../helpers/fixtures.js";
import { sessionCookie as cookieOf, uniqueEmail } from "../../helpers/session.js";

let t: TestApp;

beforeAll(async () => {
  // Limits low enough to reach in a test; the per-account one is the product's default (5).
  t = await testApp({ env: { RATE_LIMIT_LOGIN_LIMIT: "40" } });
});

const PASSWORD = "correct horse";
const newEmail = () => uniqueEmail("pages");
/** What a browser sends with a form submitted from one of our own pages. */
const SAME_ORIGIN = { "Sec-Fetch-Site": "same-origin", Accept: "text/html" };

const sessionCookie = (res: request.Response) => cookieOf(res, t.config.session.cookieName) ?? "";

function postForm(path: string, body: Record<string, string>, cookie?: string) {
  const req = request(t.app).post(path).set(SAME_ORIGIN).type("form").send(body);
  return cookie ? req.set("Cookie", cookie) : req;
}

async function registered(): Promise<{ email: string; cookie: string }> {
  const email = newEmail();
  const res = await postForm("/register", { email, password: PASSWORD });
  expect(res.status).toBe(303);
  expect(res.headers.location).toBe("/account");
  return { email, cookie: sessionCookie(res) };
}

describe("pages", () => {
  it("sends / to /login, or to /account once logged in", async () => {
    const anonymous = await request(t.app).get("/");
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.location).toBe("/login");
    const { cookie } = await registered();
    const known = await request(t.app).get("/").set("Cookie", cookie);
    expect(known.headers.location).toBe("/account");
    expect((await request(t.app).get("/login").set("Cookie", cookie)).headers.location).toBe("/account");
    expect((await request(t.app).get("/account")).headers.location).toBe("/login");
  });

  it("serve accessible HTML without inline script or style, under a CSP that allows only this origin's scripts", async () => {
    const { cookie } = await registered();
    for (const path of ["/login", "/register", "/account"]) {
      const req = request(t.app).get(path);
      const res = await (path === "/account" ? req.set("Cookie", cookie) : req);
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toMatch(/^text\/html; charset=utf-8/);
      expect(res.headers["content-security-policy"]).toMatch(/default-src 'none'/);
      expect(res.headers["content-security-policy"]).toMatch(/script-src 'self'(;|$)/);
      expect(res.headers["content-security-policy"]).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(res.headers["cache-control"]).toBe("no-store");
      // Scripts only by URL from this origin (the passkey buttons), never inline.
      const withoutOwnScripts = res.text.replace(
        /<script src="\/assets\/[a-z]+\.[0-9a-f]{12}\.js" defer><\/script>/g,
        "",
      );
      expect(withoutOwnScripts).not.toMatch(/<script|\sstyle=|\son[a-z]+=/i);
      expect(res.text).toMatch(/<html lang="en">/);
      expect(res.text).toMatch(/<meta name="viewport" content="width=device-width/);
      // Every visible input has a label pointing at it.
      const inputs = [...res.text.matchAll(/<input id="([^"]+)"/g)].map((m) => m[1]);
      expect(inputs.length).toBeGreaterThan(0);
      for (const id of inputs) expect(res.text).toContain(`<label for="${id}">`);
    }
  });

  it("serve one stylesheet under a content hash, cacheable for a year", async () => {
    const page = await request(t.app).get("/login");
    const href = /<link rel="stylesheet" href="([^"]+)">/.exec(page.text)?.[1];
    expect(href).toMatch(/^\/assets\/style\.[0-9a-f]{12}\.css$/);
    const css = await request(t.app).get(href as string);
    expect(css.status).toBe(200);
    expect(css.headers["content-type"]).toMatch(/^text\/css/);
    expect(css.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(css.headers["set-cookie"]).toBeUndefined();
    expect((await request(t.app).get("/assets/style.000000000000.css")).status).toBe(404);
  });
});

describe("login and register forms", () => {
  it("log in with a 303 to /account and an HttpOnly cookie", async () => {
    const { email } = await registered();
    const res = await postForm("/login", { email: email.toUpperCase(), password: PASSWORD });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/account");
    expect(String(res.headers["set-cookie"])).toMatch(/HttpOnly/);
    const account = await request(t.app).get("/account").set("Cookie", sessionCookie(res));
    expect(account.text).toContain(email);
  });

  it("show a wrong password, keep the email and never echo the password", async () => {
    const { email } = await registered();
    const secret = "wrong-but-secret-guess";
    const res = await postForm("/login", { email, password: secret });
    expect(res.status).toBe(401);
    expect(res.text).toContain('role="alert">Email or password is incorrect');
    expect(res.text).toContain(`value="${email}"`);
    expect(res.text).not.toContain(secret);
    expect(res.headers["set-cookie"]).toBeUndefined();
  });

  it("put each field's error next to that field, escaped", async () => {
    const res = await postForm("/register", { email: '"><script>alert(1)</script>', password: "short" });
    expect(res.status).toBe(400);
    expect(res.text).not.toContain("<script>alert(1)");
    expect(res.text).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(res.text).toMatch(
      /id="f-email"[^>]*aria-invalid="true"[^>]*aria-describedby="f-email-error"[^>]*autofocus>\s*<p class="error" id="f-email-error">email must be a valid email address/,
    );
    expect(res.text).toMatch(/id="f-password"[^>]*aria-invalid="true"/);
    expect(res.text).toContain('id="f-password-error">password must be at least 8 characters');
    expect(res.text).not.toMatch(/value="short"/);
  });

  it("say when the email is taken", async () => {
    const { email } = await registered();
    // (The same email with the same password is a repeated registration and logs in.)
    const res = await postForm("/register", { email, password: "another password" });
    expect(res.status).toBe(409);
    expect(res.text).toContain('id="f-email-error">An account with this email already exists');
  });

  it("leave the JSON API JSON-only", async () => {
    const res = await request(t.app)
      .post("/auth/login")
      .type("form")
      .send({ email: "a@example.com", password: "x" });
    expect(res.status).toBe(415);
  });
});

describe("rate-limited forms", () => {
  it("show the wait once an account has had too many failed logins, keeping the email", async () => {
    const { email } = await registered();
    for (let i = 0; i < 5; i++)
      expect((await postForm("/login", { email, password: `guess-${i}!` })).status).toBe(401);
    const res = await postForm("/login", { email, password: PASSWORD });
    expect(res.status).toBe(429);
    expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
    expect(res.text).toMatch(/role="alert">Too many login attempts\. Try again in \d+ (seconds|minutes)\./);
    expect(res.text).toContain(`value="${email}"`);
    expect(res.headers["set-cookie"]).toBeUndefined();
  });

  it("show the wait when this address has posted too many forms", async () => {
    const strict = await testApp({ redis: false, env: { RATE_LIMIT_LOGIN_LIMIT: "2" } });
    try {
      const post = (email: string) =>
        request(strict.app)
          .post("/register")
          .set(SAME_ORIGIN)
          .type("form")
          .send({ email, password: PASSWORD });
      expect((await post(newEmail())).status).toBe(303);
      expect((await post(newEmail())).status).toBe(303);
      const email = newEmail();
      const res = await post(email);
      expect(res.status).toBe(429);
      expect(res.headers["content-type"]).toMatch(/^text\/html/);
      expect(res.text).toMatch(/<h1>Create an account<\/h1>/);
      expect(res.text).toMatch(/Too many attempts\. Try again in \d+ (seconds|minutes)\./);
      expect(res.text).toContain(`value="${email}"`);
      // The JSON API keeps answering JSON.
      const api = await request(strict.app).post("/auth/login").send({ email, password: PASSWORD });
      expect(api.status).toBe(429);
      expect(api.body.error).toMatchObject({ code: "rate_limited", retryAfter: expect.any(Number) });
    } finally {
      await strict.close();
    }
  });
});

describe("account page", () => {
  it("changes the password through the form and signs the other devices out", async () => {
    const { email, cookie } = await registered();
    const other = sessionCookie(await postForm("/login", { email, password: PASSWORD }));

    const wrong = await postForm(
      "/account/password",
      { currentPassword: "nope-nope", newPassword: "new password!" },
      cookie,
    );
    expect(wrong.status).toBe(403);
    expect(wrong.text).toContain('id="f-currentPassword-error">The current password is incorrect');
    expect(wrong.text).not.toContain("nope-nope");

    const res = await postForm(
      "/account/password",
      { currentPassword: PASSWORD, newPassword: "new password!" },
      cookie,
    );
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/account?done=password");
    const renewed = sessionCookie(res);
    const page = await request(t.app)
      .get(res.headers.location as string)
      .set("Cookie", renewed);
    expect(page.text).toContain("Your password was changed");
    expect((await request(t.app).get("/account").set("Cookie", other)).headers.location).toBe("/login");
  });

  it("signs out one session, and this device when asked", async () => {
    const { email, cookie } = await registered();
    const other = sessionCookie(await postForm("/login", { email, password: PASSWORD }));
    const page = await request(t.app).get("/account").set("Cookie", cookie);
    const actions = [...page.text.matchAll(/action="(\/account\/sessions\/[^"]+\/revoke)"/g)].map(
      (m) => m[1],
    );
    expect(actions).toHaveLength(2);
    expect(page.text).toContain("This device");

    // The first row is this device; the second is the other one.
    const res = await postForm(actions[1] as string, {}, cookie);
    expect(res.headers.location).toBe("/account?done=session");
    expect((await request(t.app).get("/auth/me").set("Cookie", other)).status).toBe(401);

    const self = await postForm(actions[0] as string, {}, cookie);
    expect(self.headers.location).toBe("/login");
    expect((await request(t.app).get("/auth/me").set("Cookie", cookie)).status).toBe(401);
  });

  it("echoes nothing from the query string", async () => {
    const { cookie } = await registered();
    const res = await request(t.app).get("/account?done=%3Cb%3Ehi").set("Cookie", cookie);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain("<b>hi");
    expect(res.text).not.toContain('class="notice"');
  });

  it("shows no notice for ?done= naming an object's inherited members (constructor, __proto__, toString)", async () => {
    const { cookie } = await registered();
    for (const done of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]) {
      for (const [path, headers] of [
        ["/account", { Cookie: cookie }],
        ["/login", {}],
      ] as const) {
        const res = await request(t.app).get(`${path}?done=${done}`).set(headers);
        expect(res.status, `${path}?done=${done}`).toBe(200);
        expect(res.text).not.toContain('class="notice"');
        expect(res.text).not.toMatch(/function |\[object /);
      }
    }
  });

  it("logs out with a redirect to /login", async () => {
    const { cookie } = await registered();
    const res = await postForm("/logout", {}, cookie);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/login");
    expect((await request(t.app).get("/auth/me").set("Cookie", cookie)).status).toBe(401);
  });
});
