import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Store } from "express-session";
import { Redis as IORedis } from "ioredis";
import request from "supertest";
import { expect, inject, vi } from "vitest";
import type { Env } from "../../server/config/config.js";
import { createPostgresDatabase, type Database } from "../../server/infra/db/database.js";
import type { Logger } from "../../server/infra/logging/logger.js";
import { connectRedis, createRedisClient, type Redis } from "../../server/infra/redis/redis-client.js";
import { type RuntimeFactories, startMailWorker } from "../../server/process/runtime.js";
import { buildTestApp, TEST_SECRET, type TestApp, uniquePrefix } from "./app.js";
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from "./database.js";
import { SHARED_REDIS_DATABASES } from "./global-setup.js";
import { buildHealthApp, type HealthTestApp } from "./health-app.js";
import { listen } from "./listen.js";
import { silentLogger } from "./logger.js";
import { type RedisServer, startRedisServer } from "./redis-server.js";
import { sessionCookie, sessionIdOf, uniqueEmail } from "./session.js";

// Everything the fixtures below open for a test file is closed once its tests are done, newest first,
// even when a test failed: tests/helpers/file-setup.ts (a setup file, run for every test file, also when
// files share a worker's modules) calls `endOfFile` after each file.
const cleanups: Array<() => Promise<void> | void> = [];

/** Closes what the fixtures opened for the file that just ran and forgets its shared Redis and database. */
export async function endOfFile(): Promise<void> {
  sharedRedisPromise = undefined;
  databasePromise = undefined;
  const errors: unknown[] = [];
  for (const close of cleanups.splice(0).reverse()) {
    try {
      await close();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length) throw errors[0];
}

/** Runs `close` after the current test file's tests (fixtures call it for what they open). */
export function closeAfterFile(close: () => Promise<void> | void): void {
  cleanups.push(close);
}

export interface SharedRedis {
  port: number;
  /** The logical database of this file. */
  db: number;
  /** `redis://127.0.0.1:<port>/<db>`. */
  url: string;
}

/** What the tier's global setup provides; the unit tier starts nothing, so its files get a clear error. */
function provided<K extends "sharedRedis" | "sharedPostgres" | "sharedCluster">(key: K) {
  const value = inject(key);
  if (value === undefined) {
    throw new Error(
      "this file uses the shared Redis or database, which the unit tier does not start: list it in INTEGRATION_FILES in vitest.config.ts",
    );
  }
  return value;
}

let sharedRedisPromise: Promise<SharedRedis> | undefined;

/**
 * The run's redis-server (started by the global setup), on a logical database of this file's own, so
 * DBSIZE, SCAN and FLUSHDB see only this file's keys. Suites that kill, freeze, fill or misconfigure
 * Redis, or count its commands, start their own with `startRedisServer`.
 */
export function sharedRedis(): Promise<SharedRedis> {
  sharedRedisPromise ??= (async () => {
    const { port } = provided("sharedRedis");
    const counter = new IORedis({ host: "127.0.0.1", port, lazyConnect: true });
    counter.on("error", () => undefined);
    try {
      await counter.connect();
      const n = await counter.incr("test:files");
      const db = 1 + ((n - 1) % (SHARED_REDIS_DATABASES - 1));
      return { port, db, url: `redis://127.0.0.1:${port}/${db}` };
    } finally {
      counter.disconnect();
    }
  })();
  return sharedRedisPromise;
}

/**
 * The run's 3-master Redis Cluster (REDIS_URL with REDIS_CLUSTER=true), shared by the files that only read
 * and write keys under their own prefix. Suites that stop, fail over or flush a cluster start their own
 * with `startRedisCluster`.
 */
export function sharedRedisCluster(): { url: string; ports: number[] } {
  return provided("sharedCluster");
}

/**
 * A connected client built like the app's (server/infra/redis), on this file's database of the shared Redis
 * unless `port` names another server; disconnected after the file.
 */
export async function testRedisClient(
  options: { port?: number; db?: number; connectTimeoutMs?: number; commandTimeoutMs?: number } = {},
): Promise<Redis> {
  const target = options.port === undefined ? await sharedRedis() : { port: options.port, db: 0 };
  const logger = silentLogger();
  const redis = createRedisClient(
    {
      host: "127.0.0.1",
      port: target.port,
      db: options.db ?? target.db,
      source: "test",
      connectTimeoutMs: options.connectTimeoutMs ?? 2000,
      commandTimeoutMs: options.commandTimeoutMs ?? 5000,
    },
    logger,
    "test",
  );
  closeAfterFile(() => redis.disconnect());
  await connectRedis(redis, logger);
  return redis;
}

/** A redis-server of the file's own, for suites that kill, freeze, fill or misconfigure it or count its commands; stopped after the file. */
export async function privateRedisServer(
  options?: Parameters<typeof startRedisServer>[0],
): Promise<RedisServer> {
  const server = await startRedisServer(options);
  closeAfterFile(() => server.stop());
  return server;
}

let databasePromise: Promise<TestDatabase> | undefined;

/**
 * The run's database for this file: the schema migrated once by the global setup (TEST_DATABASE_URL),
 * or an in-process PGlite for the file. Rows are shared with other files: make them unique (uniqueEmail).
 */
export function testDatabase(): Promise<TestDatabase> {
  databasePromise ??= (async () => {
    const shared = provided("sharedPostgres");
    const database: TestDatabase = shared
      ? sharedPostgresDatabase(shared.url, shared.schema)
      : await createTestDatabase();
    closeAfterFile(() => database.close());
    return database;
  })();
  return databasePromise;
}

function sharedPostgresDatabase(url: string, schema: string): TestDatabase {
  const db = createPostgresDatabase({ url, schema, poolMax: 5, timeoutMs: 5000 }, silentLogger());
  return { db, env: { DATABASE_URL: url, DATABASE_SCHEMA: schema }, close: () => db.close() };
}

/** A migrated database of the file's own (its own schema or PGlite), for tests that count or wipe rows. */
export async function isolatedDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  closeAfterFile(() => database.close());
  return database;
}

/** A database of the file's own with no migration applied (its PostgreSQL `schema`, if any, for `migrate`). */
export async function emptyDatabase(): Promise<TestDatabase & { schema?: string }> {
  const database = await createEmptyDatabase();
  closeAfterFile(() => database.close());
  return database;
}

export interface TestAppOptions {
  /** Wins over the test defaults and over the shared Redis URL (e.g. a private `REDIS_URL`). */
  env?: Env;
  /** Defaults to `testDatabase()`. */
  db?: Database;
  /** `false`: no Redis unless `env` names one (sessions in memory). Default: the shared Redis. */
  redis?: boolean;
  logger?: Logger;
  sessionStore?: Store;
  /** Awaited at each stage of a session restore (durable sessions), to race it with a revocation. */
  restoreHold?: Parameters<typeof buildTestApp>[0]["restoreHold"];
  /** Replaces some of the runtime's factories (server/process/runtime.ts), e.g. the cache. */
  factories?: Partial<RuntimeFactories>;
  /** The clock provider sign-ins check ID tokens and flows against. */
  now?: () => number;
}

async function appEnv(options: TestAppOptions): Promise<Env> {
  const redisEnv: Env = options.redis === false ? {} : { REDIS_URL: (await sharedRedis()).url };
  return { ...redisEnv, ...options.env };
}

function closeOnce<T extends { close(): Promise<void> }>(app: T): T {
  let closing: Promise<void> | undefined;
  const close = app.close.bind(app);
  app.close = () => {
    closing ??= close();
    return closing;
  };
  closeAfterFile(() => app.close());
  return app;
}

/** The real app on the shared Redis and the file's database, each app on its own key prefix; closed after the file. */
export async function testApp(options: TestAppOptions = {}): Promise<TestApp> {
  const db = options.db ?? (await testDatabase()).db;
  return closeOnce(
    await buildTestApp({
      db,
      env: await appEnv(options),
      logger: options.logger,
      sessionStore: options.sessionStore,
      restoreHold: options.restoreHold,
      factories: options.factories,
      now: options.now,
    }),
  );
}

/** `testApp` listening on a loopback port, for clients that need a real socket (faults, fetch); closed after the file. */
export async function servedApp(options: TestAppOptions = {}): Promise<{ t: TestApp; url: string }> {
  const t = await testApp(options);
  const server = await listen(t.app);
  closeAfterFile(() => server.close()); // runs before the app's own close (newest first)
  return { t, url: server.url };
}

/** `testApp` with the lifecycle and metrics registry reachable. */
export async function testHealthApp(
  options: TestAppOptions & { processMetrics?: boolean } = {},
): Promise<HealthTestApp> {
  const db = options.db ?? (await testDatabase()).db;
  return closeOnce(
    await buildHealthApp({ db, env: await appEnv(options), processMetrics: options.processMetrics }),
  );
}

/** Anything with the app and its config: a TestApp or a HealthTestApp. */
export interface AppUnderTest {
  app: TestApp["app"];
  config: TestApp["config"];
}

export const TEST_PASSWORD = "correct horse battery";

export interface Credentials {
  email: string;
  password: string;
  /** `name=value` of the session cookie set by the response ("" when it set none). */
  cookie: string;
  res: request.Response;
}

/** POST /auth/register (expects 201); the session cookie is required unless `requireCookie: false`. */
export function registerUser(
  t: AppUnderTest,
  options: {
    email?: string;
    password?: string;
    headers?: Record<string, string>;
    requireCookie?: boolean;
  } = {},
): Promise<Credentials> {
  return signIn(t, "/auth/register", 201, options.email ?? uniqueEmail("user"), options);
}

/** POST /auth/login (expects 200); returns the new session cookie. */
export function login(
  t: AppUnderTest,
  email: string,
  options: { password?: string; headers?: Record<string, string> } = {},
): Promise<Credentials> {
  return signIn(t, "/auth/login", 200, email, options);
}

async function signIn(
  t: AppUnderTest,
  path: string,
  status: number,
  email: string,
  options: { password?: string; headers?: Record<string, string>; requireCookie?: boolean },
): Promise<Credentials> {
  const password = options.password ?? TEST_PASSWORD;
  const res = await request(t.app)
    .post(path)
    .set(options.headers ?? {})
    .send({ email, password });
  expect(res.status).toBe(status);
  const cookie = sessionCookie(res, t.config.session.cookieName);
  if (!cookie && (options.requireCookie ?? true)) throw new Error("no session cookie in the response");
  return { email, password, cookie: cookie ?? "", res };
}

/** `vi.waitFor` for a condition that returns a boolean: resolves once it holds, throws after `timeoutMs`. */
export function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<void> {
  return vi.waitFor(
    async () => {
      if (!(await condition())) throw new Error(`condition not met within ${timeoutMs} ms`);
    },
    { timeout: timeoutMs, interval: intervalMs },
  );
}

/**
 * The environment of a spawned server (`startServerProcess`) under a browser: the run's Redis and
 * database (without `TEST_DATABASE_URL`, an embedded one in a directory of its own, kept across a restart
 * and removed after the file), a key prefix of its own and a cheap password hash; `extra` last.
 */
export async function spawnedServerEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const database = process.env.TEST_DATABASE_URL ? (await testDatabase()).env : {};
  const storage: Record<string, string> = {};
  if (!database.DATABASE_URL) {
    const dir = mkdtempSync(join(tmpdir(), "spawned-server-"));
    closeAfterFile(() => rmSync(dir, { recursive: true, force: true }));
    storage.DATA_DIR = dir;
  }
  return {
    NODE_ENV: "test",
    LOG_LEVEL: "warn",
    REDIS_URL: (await sharedRedis()).url,
    SESSION_SECRET: TEST_SECRET,
    KEY_PREFIX: uniquePrefix(),
    PASSWORD_SCRYPT_LOG_N: "10",
    ...database,
    ...storage,
    ...extra,
  };
}

/** The mail worker running inside the test app, as `WORKER_MODE=inline` runs it (with `SMTP_URL` set). */
export const inlineMailWorker: Partial<RuntimeFactories> = {
  start: async (ctx, services) => startMailWorker(ctx, services),
};

/** Moves the session's last authentication an hour back, as if it had been signed in for a while; the new time. */
export async function ageAuthentication(t: TestApp, cookie: string): Promise<number> {
  const key = `${t.config.keyPrefix}:sess:${sessionIdOf(cookie)}`;
  const stored = JSON.parse((await t.redis?.get(key)) as string);
  stored.auth.authAt = Date.now() - 3_600_000;
  await t.redis?.set(key, JSON.stringify(stored), "KEEPTTL");
  return stored.auth.authAt;
}
