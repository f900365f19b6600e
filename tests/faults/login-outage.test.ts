import request from "supertest";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createPostgresDatabase, type Database } from "../../server/infra/db/database.js";
import { buildTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { silentLogger } from "../helpers/logger.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { sessionCookie, uniqueEmail } from "../helpers/session.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";

// Dependency failures never count against users: a login that answered 503 because PostgreSQL or Redis
// did not answer leaves the `login-account` budget (per account) and the `login` budget (per address) as
// they were, and a registration that answered 503 can be repeated.

const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const LIMIT = 5; // the product's default for login-account
const PASSWORD = "correct horse";
const ATTEMPTS_DURING_OUTAGE = 20;
/** Per address, below what one test sends in all: the outage's attempts must have been given back. */
const ADDRESS_LIMIT = 10;

let redisServer: RedisServer;
let database: TestDatabase;
let proxy: TcpProxy;
let proxied: Database;
let t: TestApp;

beforeAll(async () => {
  process.env.TEST_DATABASE_URL ??= POSTGRES_URL;
  redisServer = await startRedisServer();
  database = await createTestDatabase();
  const url = new URL(POSTGRES_URL);
  proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.host = `127.0.0.1:${proxy.port}`;
  proxied = createPostgresDatabase(
    { url: url.toString(), schema: database.env.DATABASE_SCHEMA, poolMax: 5, timeoutMs: 500 },
    silentLogger(),
  );
  t = await buildTestApp({
    db: proxied,
    env: {
      REDIS_URL: redisServer.url,
      REDIS_COMMAND_TIMEOUT_MS: "300",
      RATE_LIMIT_LOGIN_ACCOUNT_LIMIT: String(LIMIT),
      RATE_LIMIT_LOGIN_LIMIT: String(ADDRESS_LIMIT),
      TRUST_PROXY: "1",
    },
  });
});

afterAll(async () => {
  await t?.close();
  await proxied?.close().catch(() => undefined);
  await proxy?.close();
  await database?.close();
  await redisServer?.stop();
});

let addresses = 0;
let address = "";
beforeEach(() => {
  address = `192.0.2.${++addresses}`;
});

const post = (path: string, body: object) =>
  request(t.app).post(path).set("X-Forwarded-For", address).send(body);
const login = (email: string, password: string) => post("/auth/login", { email, password });

async function register(email: string) {
  await post("/auth/register", { email, password: PASSWORD }).expect(201);
}

/** A complete 503: JSON error body, Retry-After. */
function expectUnavailable(res: request.Response) {
  expect(res.status, res.text).toBe(503);
  expect(res.headers["retry-after"]).toMatch(/^\d+$/);
  expect(res.body.error.code).toBe("service_unavailable");
}

/** Exactly LIMIT wrong passwords are answered 401 and the next one 429: the whole budget is there. */
async function expectFullBudget(email: string) {
  for (let i = 1; i <= LIMIT; i++) {
    const res = await login(email, `wrong-${i}`);
    expect(res.status, `wrong attempt ${i}`).toBe(401);
  }
  expect((await login(email, "wrong-again")).status).toBe(429);
}

async function outageAnswers(email: string, password: string): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < ATTEMPTS_DURING_OUTAGE; i++) {
    const started = Date.now();
    const res = await login(email, password);
    expectUnavailable(res);
    expect(Date.now() - started).toBeLessThan(3000);
    statuses.push(res.status);
  }
  return statuses;
}

async function waitForRedis() {
  await vi.waitFor(() => expect(t.redis?.status).toBe("ready"), { timeout: 15_000, interval: 50 });
}

describe("PostgreSQL down during logins", () => {
  it("answers 503 (not 500, not 429), then the right password logs in at once", async () => {
    const email = uniqueEmail("pgcut");
    await register(email);
    await proxy.cut("refuse");
    try {
      await outageAnswers(email, PASSWORD);
    } finally {
      await proxy.restore();
    }
    const res = await login(email, PASSWORD);
    expect(res.status, res.text).toBe(200);
  });

  it("leaves the login-account budget whole, for right and wrong passwords alike", async () => {
    const email = uniqueEmail("pgbudget");
    await register(email);
    await proxy.cut("refuse");
    try {
      await outageAnswers(email, "wrong password");
    } finally {
      await proxy.restore();
    }
    await expectFullBudget(email);
  });

  it("a stalled PostgreSQL (connections hang) answers 503 within the timeout and counts nothing", async () => {
    const email = uniqueEmail("pghang");
    await register(email);
    await proxy.cut("hang");
    try {
      const started = Date.now();
      // As many at once as the limit allows: attempts in flight are counted (so concurrent guesses cannot
      // race past the limit) and given back only when their outcome is known to be an outage.
      const answers = await Promise.all(Array.from({ length: LIMIT }, () => login(email, PASSWORD)));
      for (const res of answers) expectUnavailable(res);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await proxy.restore();
    }
    await expectFullBudget(email);
  });
});

describe("Redis down during logins and registration", () => {
  it("logins answer 503 and no lockout is counted once Redis is back", async () => {
    const email = uniqueEmail("rediscut");
    await register(email);
    await redisServer.kill();
    try {
      await outageAnswers(email, PASSWORD);
    } finally {
      await redisServer.start();
    }
    await waitForRedis();
    expect((await login(email, PASSWORD)).status).toBe(200);
    await expectFullBudget(email);
  });

  it("a registration that answered 503 succeeds when repeated, and the user can log in", async () => {
    const email = uniqueEmail("redisreg");
    await redisServer.kill();
    try {
      const res = await post("/auth/register", { email, password: PASSWORD });
      expectUnavailable(res);
    } finally {
      await redisServer.start();
    }
    await waitForRedis();
    const repeated = await post("/auth/register", { email, password: PASSWORD });
    expect(repeated.status, repeated.text).toBe(201);
    expect(repeated.body.user.email).toBe(email);
    await request(t.app)
      .get("/auth/me")
      .set("Cookie", sessionCookie(repeated, t.config.session.cookieName) ?? "")
      .expect(200);
    expect((await login(email, PASSWORD)).status).toBe(200);
    // Someone else repeating the registration with another password gets the usual 409.
    const other = await post("/auth/register", { email, password: "another password" });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe("email_taken");
  });
});
