import { gzipSync } from "node:zlib";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../helpers/app.js";
import type { TestDatabase } from "../helpers/database.js";
import { isolatedDatabase, sharedRedis } from "../helpers/fixtures.js";
import { listen } from "../helpers/listen.js";
import { sessionCookie, uniqueEmail } from "../helpers/session.js";

let database: TestDatabase;
let t: TestApp;

beforeAll(async () => {
  // A database of its own: the tests count its users.
  database = await isolatedDatabase();
  t = await buildTestApp({
    db: database.db,
    env: { REDIS_URL: (await sharedRedis()).url, RATE_LIMIT_LOGIN_LIMIT: "1000" },
  });
});

afterAll(async () => {
  await t?.close();
});

const PASSWORD = "correct horse";
/** What a browser sends with a form submitted from one of our own pages. */
const SAME_ORIGIN = { "Sec-Fetch-Site": "same-origin", Accept: "text/html" };

async function userCount(): Promise<number> {
  const { rows } = await database.db.query<{ n: string }>("SELECT count(*)::text AS n FROM users");
  return Number(rows[0]?.n);
}

type Answer = Pick<request.Response, "status" | "headers" | "text" | "body">;

function expectJsonError(res: Answer, status: number) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers["content-type"]).toMatch(/application\/json/);
  expect(res.body).toEqual({
    error: expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
  });
  expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
}

function expectFormPage(res: Answer, status: number, message: RegExp) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers["content-type"]).toMatch(/text\/html/);
  expect(res.text).toMatch(/<form/);
  expect(res.text).toMatch(message);
}

async function registered(): Promise<{ email: string; cookie: string }> {
  const email = uniqueEmail("hostile");
  const res = await request(t.app).post("/auth/register").send({ email, password: PASSWORD }).expect(201);
  return { email, cookie: sessionCookie(res, t.config.session.cookieName) ?? "" };
}

/** POSTs exactly these bytes (supertest would serialise a Buffer as JSON) and reads the answer. */
async function raw(
  path: string,
  body: Buffer | string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string>; text: string; body: unknown }> {
  const server = await listen(t.app);
  try {
    const res = await fetch(`${server.url}${path}`, { method: "POST", headers, body });
    const text = await res.text();
    const type = res.headers.get("content-type") ?? "";
    return {
      status: res.status,
      headers: Object.fromEntries(res.headers),
      text,
      body: type.includes("json") ? JSON.parse(text) : undefined,
    };
  } finally {
    await server.close();
  }
}

describe("hostile input to the JSON API: 4xx JSON, nothing changed", () => {
  it.each([
    ["a NUL in the email", "nul\u0000@example.com"],
    ["a NUL in the domain", "someone@exa\u0000mple.com"],
    ["another control character", "bell\u0007@example.com"],
  ])("register with %s → 400 naming the email", async (_label, email) => {
    const before = await userCount();
    const res = await request(t.app).post("/auth/register").send({ email, password: PASSWORD });
    expectJsonError(res, 400);
    expect(res.body.error.field).toBe("email");
    expect(await userCount()).toBe(before);
  });

  it("login with a NUL in the email → 400 naming the email", async () => {
    const res = await request(t.app)
      .post("/auth/login")
      .send({ email: "a\u0000b@example.com", password: PASSWORD });
    expectJsonError(res, 400);
    expect(res.body.error.field).toBe("email");
  });

  it("a NUL in a password is an ordinary character: it is hashed, never stored, and logs in", async () => {
    const email = uniqueEmail("nulpass");
    const password = "pass\u0000word-1234";
    await request(t.app).post("/auth/register").send({ email, password }).expect(201);
    await request(t.app).post("/auth/login").send({ email, password }).expect(200);
    await request(t.app).post("/auth/login").send({ email, password: "pass" }).expect(401);
  });

  it("a malformed % escape in a path parameter → 400", async () => {
    const { cookie } = await registered();
    const res = await request(t.app).delete("/auth/sessions/%E0%A4%A").set("Cookie", cookie);
    expectJsonError(res, 400);
    // The session still works.
    await request(t.app).get("/auth/me").set("Cookie", cookie).expect(200);
  });

  it("a session cookie with a malformed % escape or a NUL is ignored, not an error", async () => {
    for (const value of ["%E0%A4%A", "s%3A%00.x", "%"]) {
      const res = await request(t.app)
        .get("/auth/me")
        .set("Cookie", `${t.config.session.cookieName}=${value}`);
      expectJsonError(res, 401);
    }
  });

  it("a 5 000-character session id in the path → 404", async () => {
    const { cookie } = await registered();
    const res = await request(t.app)
      .delete(`/auth/sessions/${"a".repeat(5000)}`)
      .set("Cookie", cookie);
    expectJsonError(res, 404);
  });

  it("a JSON body posted to a form page → the form with 400, no account", async () => {
    const before = await userCount();
    const res = await request(t.app)
      .post("/register")
      .set(SAME_ORIGIN)
      .send({ email: uniqueEmail(), password: PASSWORD });
    expectFormPage(res, 400, /email/i);
    expect(await userCount()).toBe(before);
  });

  it("a NUL in a path parameter → 404", async () => {
    const { cookie } = await registered();
    const res = await request(t.app).delete("/auth/sessions/%00").set("Cookie", cookie);
    expectJsonError(res, 404);
  });

  it("gzip Content-Encoding with a body that does not decode → 400", async () => {
    const before = await userCount();
    const garbage = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from("not gzip at all")]);
    const res = await raw("/auth/register", garbage, {
      "Content-Type": "application/json",
      "Content-Encoding": "gzip",
    });
    expectJsonError(res, 400);
    expect(await userCount()).toBe(before);
  });

  it("an unknown Content-Encoding → 415", async () => {
    const res = await raw("/auth/register", '{"email":"a@b.co"}', {
      "Content-Type": "application/json",
      "Content-Encoding": "br-unknown",
    });
    expectJsonError(res, 415);
  });

  it("a gzip body that decodes to more than the limit → 413", async () => {
    const big = gzipSync(
      JSON.stringify({ email: uniqueEmail(), password: PASSWORD, pad: "x".repeat(200_000) }),
    );
    expect(big.length).toBeLessThan(10_000);
    const before = await userCount();
    const res = await raw("/auth/register", big, {
      "Content-Type": "application/json",
      "Content-Encoding": "gzip",
    });
    expectJsonError(res, 413);
    expect(await userCount()).toBe(before);
  });

  it.each([
    ["null", "null"],
    ["a string", '"hello"'],
    ["a number", "42"],
    ["an array", "[]"],
  ])("JSON that is %s → 400", async (_label, text) => {
    const res = await raw("/auth/login", text, { "Content-Type": "application/json" });
    expectJsonError(res, 400);
  });

  it("a content type that lies about the charset → 415", async () => {
    const res = await raw("/auth/login", '{"email":"a@b.co","password":"x"}', {
      "Content-Type": "application/json; charset=koi8-r",
    });
    expectJsonError(res, 415);
  });
});

describe("hostile input to the pages: the form again with a message, never 500", () => {
  it("more form fields than allowed → 413 on the login form", async () => {
    const fields = Array.from({ length: 50 }, (_, i) => `f${i}=x`).join("&");
    const res = await request(t.app)
      .post("/login")
      .set(SAME_ORIGIN)
      .type("form")
      .send(`email=a%40b.co&password=x&${fields}`);
    expectFormPage(res, 413, /more than 20 fields/);
  });

  it("more form fields than allowed on the register form → 413, no account", async () => {
    const before = await userCount();
    const fields = Array.from({ length: 50 }, (_, i) => `f${i}=x`).join("&");
    const res = await request(t.app)
      .post("/register")
      .set(SAME_ORIGIN)
      .type("form")
      .send(`email=${encodeURIComponent(uniqueEmail())}&password=correct+horse&${fields}`);
    expectFormPage(res, 413, /more than 20 fields/);
    expect(await userCount()).toBe(before);
  });

  it("a NUL in the form's email → 400 on the register form, no account", async () => {
    const before = await userCount();
    const res = await request(t.app)
      .post("/register")
      .set(SAME_ORIGIN)
      .type("form")
      .send("email=a%00b%40example.com&password=correct+horse");
    expectFormPage(res, 400, /email/i);
    expect(await userCount()).toBe(before);
  });

  it("a NUL in the form's email on login → 400 on the login form", async () => {
    const res = await request(t.app)
      .post("/login")
      .set(SAME_ORIGIN)
      .type("form")
      .send("email=a%00b%40example.com&password=correct+horse");
    expectFormPage(res, 400, /email/i);
  });

  it("a form body that does not decode (gzip garbage) → 400 on the form", async () => {
    const garbage = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from("garbage")]);
    const res = await raw("/login", garbage, {
      ...SAME_ORIGIN,
      "Content-Type": "application/x-www-form-urlencoded",
      "Content-Encoding": "gzip",
    });
    expectFormPage(res, 400, /does not decode/i);
  });

  it("a form body over the limit → 413 on the form", async () => {
    const res = await request(t.app)
      .post("/register")
      .set(SAME_ORIGIN)
      .type("form")
      .send(`email=a%40b.co&password=${"x".repeat(20_000)}`);
    expectFormPage(res, 413, /larger than/);
  });

  it("a malformed % escape in a page path → 400, never 500", async () => {
    const { cookie } = await registered();
    const res = await request(t.app)
      .post("/account/sessions/%E0%A4%A/revoke")
      .set(SAME_ORIGIN)
      .set("Cookie", cookie)
      .type("form")
      .send("");
    expect(res.status).toBe(400);
    expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
    await request(t.app).get("/auth/me").set("Cookie", cookie).expect(200);
  });

  it("a malformed % escape in the form body → the form with 400", async () => {
    const res = await request(t.app)
      .post("/login")
      .set(SAME_ORIGIN)
      .type("form")
      .send("email=%E0%A4%A&password=x");
    expectFormPage(res, 400, /email/i);
  });
});
