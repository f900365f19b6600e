/**
 * The OpenAPI document against the real app: every JSON route the router mounts is in the document and
 * every documented route is mounted; a real request to every documented route (signed in as it needs,
 * and with bad input where it takes a body) answers a status the document lists, with a body its schema
 * accepts.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { generate } from "otplib";
import request, { type Response } from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { type ApiClient, createClient } from "../../clients/api-client.mjs";
import { ADMIN_GROUP } from "../../server/domain/auth/groups.js";
import { isJsonRoute } from "../../server/http/openapi/document.js";
import type { TestApp } from "../helpers/app.js";
import { type Credentials, closeAfterFile, registerUser, testApp } from "../helpers/fixtures.js";
import { listen } from "../helpers/listen.js";
import { mountedRoutes } from "../helpers/routes.js";

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ADMIN_KEY = "openapi-admin-key-0123456789";

type OperationObject = { responses: Record<string, { content?: Record<string, unknown> }> };
type Document = { paths: Record<string, Record<string, OperationObject>> };

let t: TestApp;
let doc: Document;
let ajv: Ajv2020;
const exercised = new Set<string>();
/** Routes that refused a bad body with a 4xx naming the input: each route that takes a body needs one. */
const refusedInput = new Set<string>();
const INPUT_CODES = ["invalid_request", "email_refused", "invalid_json", "unsupported_media_type"];

/** `/auth/sessions/:id` → `/auth/sessions/{id}`, the document's form. */
const documentPath = (path: string) => path.replace(/:([A-Za-z]+)/g, "{$1}");
const pointer = (segment: string) => segment.replaceAll("~", "~0").replaceAll("/", "~1");

/** Asserts the answer is one the document lists for `route`, and returns it. */
function conforms(route: string, res: Response): Response {
  exercised.add(route);
  if (res.status >= 400 && res.status < 500 && INPUT_CODES.includes(res.body?.error?.code)) {
    refusedInput.add(documentPath(route));
  }
  const [method, path] = route.split(" ") as [string, string];
  const operation = doc.paths[documentPath(path)]?.[method.toLowerCase()];
  expect(operation, `${route} is not in the document`).toBeDefined();
  const answer = operation?.responses[String(res.status)];
  expect(answer, `${route} answered ${res.status} ${res.text?.slice(0, 300)}`).toBeDefined();
  const type = Object.keys(answer?.content ?? {})[0];
  if (!type) {
    if (res.status === 204) expect(res.text ?? "").toBe("");
    return res;
  }
  expect(res.headers["content-type"], route).toContain(type);
  const ref = ["openapi#", "paths", documentPath(path), method.toLowerCase(), "responses", String(res.status)]
    .concat(["content", type, "schema"])
    .map((s, i) => (i === 0 ? s : pointer(s)))
    .join("/");
  const validate = ajv.getSchema(ref);
  expect(validate, ref).toBeDefined();
  const body = type === "application/json" ? res.body : res.text;
  const valid = validate?.(body);
  expect(
    valid,
    `${route} ${res.status}: ${JSON.stringify(validate?.errors)} in ${res.text?.slice(0, 300)}`,
  ).toBe(true);
  return res;
}

interface Call {
  as?: { cookie?: string; bearer?: string };
  body?: unknown;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  form?: Record<string, string>;
}

/** Sends a request to `route` (`GET /auth/me`, with `:params` already filled in `url`) and checks it. */
async function call(route: string, url: string, options: Call = {}): Promise<Response> {
  const method = route.split(" ")[0]?.toLowerCase() as "get" | "post" | "patch" | "delete";
  let req = request(t.app)[method](url).set("Accept", "application/json");
  if (options.as?.cookie) req = req.set("Cookie", options.as.cookie);
  if (options.as?.bearer) req = req.set("Authorization", `Bearer ${options.as.bearer}`);
  if (options.headers) req = req.set(options.headers);
  if (options.query) req = req.query(options.query);
  if (options.form) req = req.type("form").send(options.form);
  else if (options.body !== undefined) req = req.send(options.body as object);
  const res = conforms(route, await req);
  if (res.status < 300 && options.body !== undefined) requestConforms(route, options.body);
  return res;
}

/** A body the server accepted is one the document's request schema accepts too. */
function requestConforms(route: string, body: unknown): void {
  const [method, path] = route.split(" ") as [string, string];
  const ref = ["openapi#", "paths", documentPath(path), method.toLowerCase(), "requestBody"]
    .concat(["content", "application/json", "schema"])
    .map((s, i) => (i === 0 ? s : pointer(s)))
    .join("/");
  const validate = ajv.getSchema(ref);
  if (!validate) return; // a route whose body has no fields of its own (revoke-others)
  expect(
    validate(body),
    `${route} accepted ${JSON.stringify(body)}: ${JSON.stringify(validate.errors)}`,
  ).toBe(true);
}

/** The same route with no params: its path is the URL. */
const at = (route: string, options: Call = {}) => call(route, route.split(" ")[1] as string, options);

const cookie = (user: Credentials) => ({ cookie: user.cookie });
const adminKey = { bearer: ADMIN_KEY };
const idOf = async (email: string) => (await t.services.users.findByEmail(email))?.id as string;
const PASSWORD = "correct horse battery";

let user: Credentials;
let bearer: string;
let pat: string;
let adminPat: string;

beforeAll(async () => {
  t = await testApp({
    env: {
      ADMIN_API_KEY: ADMIN_KEY,
      CACHE_CATEGORIES: "profiles:60",
      TOKEN_SCOPES: "profile:read,admin",
      RATE_LIMIT_LOGIN_LIMIT: "1000",
      RATE_LIMIT_GLOBAL_LIMIT: "10000",
      RATE_LIMIT_RECOVERY_LIMIT: "1000",
      REAUTH_MAX_AGE_SECONDS: "600",
      PUBLIC_URL: "https://auth.example.com",
    },
  });
  const served = await request(t.app).get("/openapi.json");
  expect(served.status).toBe(200);
  doc = served.body;
  ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
  ajv.addSchema(doc as object, "openapi");
  conforms("GET /openapi.json", served);

  user = await registerUser(t);
  pat = (
    await at("POST /auth/tokens", {
      as: cookie(user),
      body: { name: "ci", scopes: ["profile:read"], expiresInDays: 30 },
    })
  ).body.token;
  bearer = (await at("POST /auth/token", { body: { email: user.email, password: PASSWORD } })).body.token;
  const admin = await registerUser(t);
  await t.services.userCache.groups.add(await idOf(admin.email), ADMIN_GROUP);
  adminPat = (
    await at("POST /auth/tokens", {
      as: cookie(admin),
      body: { name: "admin", scopes: ["admin"], expiresInDays: 1 },
    })
  ).body.token;
});

describe("the OpenAPI document", () => {
  it("is OpenAPI 3.1 with the server from PUBLIC_URL, public and cacheable, with no secret in it", async () => {
    const res = await request(t.app).get("/openapi.json");
    expect(res.body).toMatchObject({ openapi: "3.1.0", servers: [{ url: "https://auth.example.com" }] });
    expect(res.headers["cache-control"]).toMatch(/^public, max-age=\d+$/);
    expect(res.headers["set-cookie"]).toBeUndefined();
    expect(res.text).not.toContain(ADMIN_KEY);
    expect(res.text).not.toContain(t.config.session.secrets[0]);
  });

  it("lists every JSON route the app mounts, and no route it does not mount", () => {
    const mounted = mountedRoutes(t.app).filter((route) => isJsonRoute(route.split(" ")[1] as string));
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(mounted.length).toBeGreaterThan(60);
    expect(mounted.map((r) => documentPath(r)).filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((r) => !mounted.map(documentPath).includes(r))).toEqual([]);
  });

  it("is shown as a page under the strict CSP, with no script", async () => {
    const res = await request(t.app).get("/docs/api");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toContain("text/html");
    expect(res.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(res.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(res.text).not.toMatch(/<script|style=|https?:\/\/(?!auth\.example\.com)[a-z]/i);
    expect(res.text).toContain("<code>POST /auth/device/code</code>");
    expect(res.text).toContain('href="/openapi.json"');
  });
});

describe("sign-in and account", () => {
  it("register, login, logout, token", async () => {
    const email = `new-${Date.now()}@example.com`;
    await at("POST /auth/register", { body: { email, password: PASSWORD } });
    expect((await at("POST /auth/register", { body: { email, password: "another password" } })).status).toBe(
      409,
    );
    expect((await at("POST /auth/register", { body: { email: "nope", password: PASSWORD } })).status).toBe(
      400,
    );
    const login = await at("POST /auth/login", { body: { email, password: PASSWORD } });
    expect(login.status).toBe(200);
    expect((await at("POST /auth/login", { body: { email } })).status).toBe(400);
    expect((await at("POST /auth/login", { body: { email, password: "wrong password" } })).status).toBe(401);
    const loginCookie = (login.headers["set-cookie"] as unknown as string[])[0]?.split(";")[0] as string;
    expect((await at("POST /auth/logout", { as: { cookie: loginCookie } })).status).toBe(204);
    expect((await at("POST /auth/token", { body: { email } })).status).toBe(400);
    expect(
      (await at("POST /auth/token", { as: cookie(user), body: { email, password: PASSWORD } })).status,
    ).toBe(400);
    const token = (await at("POST /auth/token", { body: { email, password: PASSWORD } })).body.token;
    expect((await at("DELETE /auth/token", { as: { bearer: token } })).status).toBe(204);
    expect((await at("DELETE /auth/token")).status).toBe(401);
  });

  it("me, verify and activity with a cookie, a bearer session and a personal access token", async () => {
    for (const as of [cookie(user), { bearer }, { bearer: pat }]) {
      expect((await at("GET /auth/me", { as })).status).toBe(200);
      expect((await at("GET /auth/verify", { as })).status).toBe(200);
    }
    expect((await at("GET /auth/me")).status).toBe(401);
    expect((await at("GET /auth/verify")).status).toBe(401);
    expect((await at("GET /auth/activity", { as: cookie(user) })).status).toBe(200);
    expect((await at("GET /auth/activity", { as: { bearer: pat } })).status).toBe(403);
    expect((await at("GET /auth/activity")).status).toBe(401);
  });

  it("recovery and email verification", async () => {
    expect((await at("POST /auth/password/forgot", { body: { email: user.email } })).status).toBe(202);
    expect((await at("POST /auth/password/forgot", { body: {} })).status).toBe(400);
    const reset = { token: "not-a-token", newPassword: "a new password" };
    expect((await at("POST /auth/password/reset", { body: reset })).status).toBe(400);
    expect((await at("POST /auth/password/reset", { body: { token: "x" } })).status).toBe(400);
    expect((await at("POST /auth/email/verify", { body: { token: "not-a-token" } })).status).toBe(400);
    expect((await at("POST /auth/email/verify", { body: [] })).status).toBe(400);
    expect((await at("POST /auth/email/verify/resend", { as: cookie(user) })).status).toBe(202);
    expect((await at("POST /auth/email/verify/resend", { body: { email: user.email } })).status).toBe(202);
    expect((await at("POST /auth/email/verify/resend", { body: { email: 3 } })).status).toBe(400);
    const changer = await registerUser(t);
    const newAddress = { email: `moved-${Date.now()}@example.com` };
    expect((await at("POST /auth/email", { as: cookie(changer), body: newAddress })).status).toBe(202);
    expect((await at("POST /auth/email", { as: cookie(changer), body: { email: 3 } })).status).toBe(400);
    expect((await at("POST /auth/email", { body: newAddress })).status).toBe(401);
    expect((await at("POST /auth/email/change", { body: { token: "not-a-token" } })).status).toBe(400);
    expect((await at("POST /auth/email/change", { body: [] })).status).toBe(400);
    const text = await at("POST /auth/email/verify", {
      headers: { "Content-Type": "text/plain" },
      body: "x",
    });
    expect(text.status).toBe(415);
  });
});

describe("sessions and password", () => {
  it("lists and ends sessions, asks for the password again, changes it", async () => {
    const owner = await registerUser(t);
    const other = await at("POST /auth/login", { body: { email: owner.email, password: PASSWORD } });
    expect(other.status).toBe(200);
    const list = await at("GET /auth/sessions", { as: cookie(owner) });
    const otherId = (list.body.sessions as Array<{ id: string; current: boolean }>).find(
      (s) => !s.current,
    )?.id;
    expect((await at("GET /auth/sessions")).status).toBe(401);
    expect(
      (await call("DELETE /auth/sessions/:id", "/auth/sessions/nope", { as: cookie(owner) })).status,
    ).toBe(404);
    expect(
      (await call("DELETE /auth/sessions/:id", `/auth/sessions/${otherId}`, { as: cookie(owner) })).status,
    ).toBe(204);
    expect((await at("POST /auth/sessions/revoke-others", { as: cookie(owner), body: {} })).status).toBe(204);
    expect((await at("POST /auth/sessions/revoke-others", { body: {} })).status).toBe(401);
    const again = { password: PASSWORD };
    expect((await at("POST /auth/reauthenticate", { as: cookie(owner), body: again })).status).toBe(204);
    expect((await at("POST /auth/reauthenticate", { as: cookie(owner), body: {} })).status).toBe(400);
    const wrong = { password: "not the password" };
    expect((await at("POST /auth/reauthenticate", { as: cookie(owner), body: wrong })).status).toBe(403);
    const change = { currentPassword: PASSWORD, newPassword: "short" };
    expect((await at("POST /auth/password", { as: cookie(owner), body: change })).status).toBe(400);
    expect((await at("POST /auth/password", { body: change })).status).toBe(401);
    const changed = await at("POST /auth/password", {
      as: cookie(owner),
      body: { ...change, newPassword: "a brand new password" },
    });
    expect(changed.status).toBe(204);
  });
});

describe("device sign-in", () => {
  it("starts, waits for approval, and answers a bearer session once approved", async () => {
    expect((await at("POST /auth/device/code", { body: { client_name: 5 } })).status).toBe(400);
    const pending = await at("POST /auth/device/code", { body: {} });
    const waiting = await at("POST /auth/device/token", { body: { device_code: pending.body.device_code } });
    expect(waiting.body.error).toBe("authorization_pending");
    expect((await at("POST /auth/device/token", { body: {} })).status).toBe(400);
    const started = await at("POST /auth/device/code", { body: { client_name: "conformance" } });
    const owner = await registerUser(t);
    const approved = await request(t.app)
      .post("/device")
      .set("Cookie", owner.cookie)
      .type("form")
      .send({ user_code: started.body.user_code, decision: "approve" });
    expect(approved.status).toBe(200);
    const token = await at("POST /auth/device/token", { body: { device_code: started.body.device_code } });
    expect(token.status).toBe(200);
  });
});

describe("personal access tokens", () => {
  it("creates, lists and revokes", async () => {
    const bad = { name: "", scopes: [], expiresInDays: 1 };
    expect((await at("POST /auth/tokens", { as: cookie(user), body: bad })).status).toBe(400);
    expect((await at("POST /auth/tokens", { body: { ...bad, name: "x" } })).status).toBe(401);
    const made = await at("POST /auth/tokens", {
      as: cookie(user),
      body: { name: "short-lived", scopes: [], expiresInDays: 1 },
    });
    expect((await at("GET /auth/tokens", { as: cookie(user) })).status).toBe(200);
    expect((await at("GET /auth/tokens")).status).toBe(401);
    expect((await call("DELETE /auth/tokens/:id", "/auth/tokens/nope", { as: cookie(user) })).status).toBe(
      404,
    );
    const url = `/auth/tokens/${made.body.id}`;
    expect((await call("DELETE /auth/tokens/:id", url, { as: cookie(user) })).status).toBe(204);
  });
});

describe("sign-in with a provider", () => {
  it("refuses an unknown provider and lists the user's identities", async () => {
    expect((await call("GET /auth/oauth/:provider", "/auth/oauth/nope")).status).toBe(404);
    const link = "POST /auth/oauth/:provider/link";
    expect((await call(link, "/auth/oauth/nope/link", { as: cookie(user), form: {} })).status).toBe(404);
    expect((await call(link, "/auth/oauth/nope/link", { form: {} })).status).toBe(401);
    const callback = "GET /auth/oauth/:provider/callback";
    expect(
      (await call(callback, "/auth/oauth/nope/callback", { query: { code: "x", state: "y" } })).status,
    ).toBe(404);
    expect((await at("GET /auth/identities", { as: cookie(user) })).status).toBe(200);
    expect((await at("GET /auth/identities")).status).toBe(401);
    const unlink = "DELETE /auth/identities/:provider/:subject";
    expect((await call(unlink, "/auth/identities/nope/nobody", { as: cookie(user) })).status).toBe(404);
  });
});

describe("second factors", () => {
  it("sets up, confirms, uses and turns off the authenticator app", async () => {
    const owner = await registerUser(t);
    const as = cookie(owner);
    expect((await at("GET /auth/mfa", { as })).body.totp).toBe(false);
    expect((await at("GET /auth/mfa")).status).toBe(401);
    expect((await at("DELETE /auth/mfa/totp", { as })).status).toBe(409);
    expect((await at("POST /auth/mfa/recovery-codes", { as })).status).toBe(409);
    const setup = await at("POST /auth/mfa/totp/setup", { as });
    expect((await at("POST /auth/mfa/totp/confirm", { as, body: { code: "12" } })).status).toBe(400);
    const code = await generate({ secret: setup.body.secret });
    const confirmed = await at("POST /auth/mfa/totp/confirm", { as, body: { code } });
    expect(confirmed.status).toBe(200);
    const codes = await at("POST /auth/mfa/recovery-codes", { as });
    expect(codes.status).toBe(200);
    expect((await at("POST /auth/mfa/verify", { as, body: {} })).status).toBe(400);
    const verified = await at("POST /auth/mfa/verify", {
      as,
      body: { recoveryCode: codes.body.recoveryCodes[0] },
    });
    expect(verified.status).toBe(200);
    expect((await at("POST /auth/mfa/verify", { body: { code: "123456" } })).status).toBe(401);
    const mfaLogin = await at("POST /auth/login", { body: { email: owner.email, password: PASSWORD } });
    expect(mfaLogin.body.mfaRequired).toBe(true);
    const noCode = await at("POST /auth/token", { body: { email: owner.email, password: PASSWORD } });
    expect(noCode.body.error.code).toBe("mfa_required");
    expect((await at("DELETE /auth/mfa/totp", { as })).status).toBe(204);
  });

  it("passkeys: options, refusals, list", async () => {
    const as = cookie(user);
    expect((await at("POST /auth/passkeys/register/options", { as })).status).toBe(200);
    expect((await at("POST /auth/passkeys/register", { as, body: {} })).status).toBe(400);
    const forged = { id: "forged", rawId: "forged", type: "public-key", response: {} };
    const refused = await at("POST /auth/passkeys/register", { as, body: { response: forged, name: "key" } });
    expect(refused.status).toBe(401);
    expect((await at("GET /auth/passkeys", { as })).status).toBe(200);
    expect((await at("GET /auth/passkeys")).status).toBe(401);
    const rename = "PATCH /auth/passkeys/:id";
    expect((await call(rename, "/auth/passkeys/nope", { as, body: {} })).status).toBe(400);
    expect((await call(rename, "/auth/passkeys/nope", { as, body: { name: "x" } })).status).toBe(404);
    expect((await call("DELETE /auth/passkeys/:id", "/auth/passkeys/nope", { as })).status).toBe(404);
    expect((await at("POST /auth/passkeys/login/options")).status).toBe(200);
    expect((await at("POST /auth/passkeys/login", { body: {} })).status).toBe(400);
    expect((await at("POST /auth/passkeys/login", { body: { response: forged } })).status).toBe(401);
  });
});

describe("your data", () => {
  it("exports and deletes the account", async () => {
    const owner = await registerUser(t);
    expect((await at("GET /auth/account/export", { as: cookie(owner) })).status).toBe(200);
    expect((await at("GET /auth/account/export")).status).toBe(401);
    expect((await at("DELETE /auth/account")).status).toBe(401);
    expect((await at("DELETE /auth/account", { as: cookie(owner) })).status).toBe(200);
  });
});

describe("admin API", () => {
  it("every action with the admin key, a search with an admin token, refusals", async () => {
    const target = await registerUser(t);
    const id = await idOf(target.email);
    const as = adminKey;
    expect((await at("GET /admin/api/users", { as, query: { q: "example" } })).status).toBe(200);
    expect((await at("GET /admin/api/users", { as: { bearer: adminPat } })).status).toBe(200);
    expect((await at("GET /admin/api/users", { as, query: { limit: "0" } })).status).toBe(400);
    expect((await at("GET /admin/api/users")).status).toBe(401);
    expect((await at("GET /admin/api/users", { as: cookie(user) })).status).toBe(403);
    expect((await at("GET /admin/api/users", { as: { bearer: pat } })).status).toBe(403);
    const u = `/admin/api/users/${id}`;
    expect((await call("GET /admin/api/users/:id", u, { as })).status).toBe(200);
    expect((await call("GET /admin/api/users/:id", "/admin/api/users/nope", { as })).status).toBe(404);
    expect((await call("POST /admin/api/users/:id/disable", `${u}/disable`, { as })).status).toBe(200);
    expect((await call("POST /admin/api/users/:id/enable", `${u}/enable`, { as })).status).toBe(204);
    const revoke = "POST /admin/api/users/:id/sessions/revoke";
    expect((await call(revoke, `${u}/sessions/revoke`, { as })).status).toBe(200);
    const one = "DELETE /admin/api/users/:id/sessions/:sessionId";
    expect((await call(one, `${u}/sessions/nope`, { as })).status).toBe(404);
    const reset = "POST /admin/api/users/:id/password-reset";
    expect((await call(reset, `${u}/password-reset`, { as })).status).toBe(202);
    const verification = "POST /admin/api/users/:id/verification";
    expect((await call(verification, `${u}/verification`, { as })).status).toBe(202);
    const factors = "POST /admin/api/users/:id/second-factors/reset";
    expect((await call(factors, `${u}/second-factors/reset`, { as })).status).toBe(200);
    const groups = "POST /admin/api/users/:id/groups";
    expect((await call(groups, `${u}/groups`, { as, body: { name: "Not A Group" } })).status).toBe(400);
    expect((await call(groups, `${u}/groups`, { as, body: { name: "ops" } })).status).toBe(204);
    const ungroup = "DELETE /admin/api/users/:id/groups/:name";
    expect((await call(ungroup, `${u}/groups/ops`, { as })).status).toBe(204);
    const remove = "DELETE /admin/api/users/:id";
    expect((await call(remove, u, { as, body: { confirm: 5 } })).status).toBe(400);
    expect((await call(remove, u, { as, body: { confirm: target.email } })).status).toBe(200);
  });
});

describe("your API and operators", () => {
  it("team routes with a session and a token", async () => {
    expect((await at("GET /api/models", { as: cookie(user) })).status).toBe(503);
    expect((await at("GET /api/models")).status).toBe(401);
    expect((await at("GET /api/echo-profile", { as: cookie(user) })).status).toBe(200);
    expect((await at("GET /api/echo-profile", { as: { bearer: pat } })).status).toBe(200);
    expect((await at("GET /api/echo-profile", { as: { bearer: adminPat } })).status).toBe(403);
    expect((await at("GET /api/echo-profile")).status).toBe(401);
  });

  it("probes, metrics and the cache", async () => {
    for (const route of [
      "GET /health/live",
      "GET /health/ready",
      "GET /health/redis",
      "GET /health/complete",
    ]) {
      expect((await at(route)).status).toBe(200);
    }
    expect((await at("GET /health", { as: adminKey })).status).toBe(200);
    expect((await at("GET /metrics", { as: adminKey })).status).toBe(200);
    expect((await at("GET /metrics")).status).toBe(401);
    expect((await at("GET /metrics/redis", { as: adminKey })).status).toBe(200);
    expect((await at("GET /api/cache/metrics", { as: adminKey })).status).toBe(200);
    expect((await at("GET /api/cache/metrics")).status).toBe(401);
    const read = await at("GET /api/cache/invalidate", { as: adminKey, query: { metrics: "true" } });
    expect(read.status).toBe(200);
    expect((await at("GET /api/cache/invalidate", { as: adminKey })).status).toBe(400);
    expect((await at("POST /api/cache/invalidate", { as: adminKey, body: { category: "all" } })).status).toBe(
      200,
    );
    expect((await at("POST /api/cache/invalidate", { as: adminKey, body: {} })).status).toBe(400);
  });
});

describe("the typed client (clients/api-client.mjs)", () => {
  it("signs in for a token, reads /auth/me with it, and narrows each answer by its status", async () => {
    const server = await listen(t.app);
    closeAfterFile(() => server.close());
    const api = createClient({ baseUrl: server.url });
    const signIn = await api.request("POST /auth/token", { body: { email: user.email, password: PASSWORD } });
    if (signIn.status !== 200) throw new Error(`sign-in answered ${signIn.status}`);
    const me = await api.withToken(signIn.body.token).request("GET /auth/me");
    expect(me.status === 200 && me.body.user.email).toBe(user.email);
    const bad = await api.request("POST /auth/login", { body: { email: "nope", password: "x" } });
    expect(bad.status === 400 && bad.body.error.code).toBe("invalid_request");
    const revoked = await api.request("DELETE /auth/tokens/:id", {
      params: { id: "nope" },
      headers: { Cookie: user.cookie },
    });
    expect(revoked.status === 404 && revoked.body.error.code).toBe("not_found");
  });

  it("refuses at compile time a route the API lacks and a call without its body or params", () => {
    const misuse = (api: ApiClient) => [
      // @ts-expect-error: no such route
      api.request("GET /auth/nothing"),
      // @ts-expect-error: the body is required
      api.request("POST /auth/login"),
      // @ts-expect-error: the path parameter is required
      api.request("DELETE /auth/tokens/:id", {}),
      // @ts-expect-error: a field of the wrong type
      api.request("POST /auth/device/code", { body: { client_name: 5 } }),
      // A body the route may go without (a signed-in caller): no error.
      api.request("POST /auth/email/verify/resend"),
    ];
    expect(typeof misuse).toBe("function");
  });
});

describe("coverage", () => {
  it("sent a request to every documented route", () => {
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(documented.filter((route) => ![...exercised].map(documentPath).includes(route))).toEqual([]);
  });

  it("sent bad input to every documented route that takes a body, and it was refused as such", () => {
    const withBody = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, operation]) => "requestBody" in operation)
        .map(([m]) => `${m.toUpperCase()} ${path}`),
    );
    expect(withBody.length).toBeGreaterThan(15);
    expect(withBody.filter((route) => !refusedInput.has(route))).toEqual([]);
  });
});
