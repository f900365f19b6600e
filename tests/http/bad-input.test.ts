import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/app.js";
import type { TestDatabase } from "../helpers/database.js";
import { isolatedDatabase, testApp } from "../helpers/fixtures.js";
import { uniqueEmail } from "../helpers/session.js";

let database: TestDatabase;
let t: TestApp;

beforeAll(async () => {
  // Its own database: the tests count every user row.
  database = await isolatedDatabase();
  t = await testApp({
    db: database.db,
    env: {
      NODE_ENV: "production",
      PUBLIC_URL: "https://auth.example.com",
      COOKIE_SECURE: "false",
      TRUST_PROXY: "false",
    },
  });
});

async function userCount(): Promise<number> {
  const { rows } = await database.db.query<{ n: string }>("SELECT count(*)::text AS n FROM users");
  return Number(rows[0]?.n);
}

function expectError(res: request.Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers["content-type"]).toMatch(/application\/json/);
  expect(res.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/); // no stack frames
  expect(res.headers["set-cookie"]).toBeUndefined();
}

describe("bad input gets a clear 4xx and changes nothing", () => {
  it("malformed JSON → 400 invalid_json", async () => {
    const before = await userCount();
    const res = await request(t.app)
      .post("/auth/register")
      .set("Content-Type", "application/json")
      .send('{"email": "a@b.co", ');
    expectError(res, 400, "invalid_json");
    expect(await userCount()).toBe(before);
  });

  it("a body over 10 kB → 413 payload_too_large", async () => {
    const res = await request(t.app)
      .post("/auth/register")
      .send({ email: uniqueEmail(), password: "password-123", padding: "x".repeat(11_000) });
    expectError(res, 413, "payload_too_large");
  });

  it("a form or text body → 415 unsupported_media_type", async () => {
    const form = await request(t.app)
      .post("/auth/login")
      .type("form")
      .send("email=a@b.co&password=password-123");
    expectError(form, 415, "unsupported_media_type");
    const text = await request(t.app).post("/auth/login").set("Content-Type", "text/plain").send("hello");
    expectError(text, 415, "unsupported_media_type");
  });

  it.each([
    ["missing email", { password: "password-123" }, "email"],
    ["missing password", { email: "someone@example.com" }, "password"],
    ["numeric email", { email: 42, password: "password-123" }, "email"],
    ["object password", { email: "someone@example.com", password: { $ne: "" } }, "password"],
    ["array body", [1, 2], "body"],
    [
      "10 000-character email",
      { email: `${"a".repeat(9990)}@example.com`, password: "password-123" },
      "email",
    ],
    ["not an email", { email: "not-an-email", password: "password-123" }, "email"],
    ["short password", { email: "someone@example.com", password: "short" }, "password"],
    ["129-character password", { email: "someone@example.com", password: "p".repeat(129) }, "password"],
  ])("register with %s → 400 naming %s", async (_label, body, field) => {
    const before = await userCount();
    const res = await request(t.app)
      .post("/auth/register")
      .send(body as object);
    expectError(res, 400, "invalid_request");
    expect(res.body.error.field).toBe(field);
    expect(await userCount()).toBe(before);
  });

  it.each([
    ["non-string password", { email: "someone@example.com", password: 12345678 }, "password"],
    [
      "10 000-character email",
      { email: `${"a".repeat(9990)}@example.com`, password: "password-123" },
      "email",
    ],
    ["empty password", { email: "someone@example.com", password: "" }, "password"],
  ])("login with %s → 400 naming %s", async (_label, body, field) => {
    const res = await request(t.app).post("/auth/login").send(body);
    expectError(res, 400, "invalid_request");
    expect(res.body.error.field).toBe(field);
  });

  it("unknown routes and methods → 404 not_found", async () => {
    expectError(await request(t.app).get("/nope"), 404, "not_found");
    expectError(await request(t.app).delete("/auth/me"), 404, "not_found");
  });

  it("GET /auth/me without a session → 401 unauthenticated", async () => {
    expectError(await request(t.app).get("/auth/me"), 401, "unauthenticated");
  });

  it("a tampered session cookie is ignored, not an error", async () => {
    const res = await request(t.app)
      .get("/auth/me")
      .set("Cookie", `${t.config.session.cookieName}=s%3Aforged.signature`);
    expectError(res, 401, "unauthenticated");
  });
});
