import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "../tests/helpers/ports.js";
import { type DelayProxy, startDelayProxy } from "./delay-proxy.js";
import type { TargetName } from "./options.js";
import { type BenchRedis, type BenchServer, onCleanup, startRedis, startServer } from "./processes.js";

export const BENCH_EMAIL = "bench@example.com";
export const BENCH_PASSWORD = "bench-password-0123";
const OPENAI_KEY = "sk-bench-0123456789";
// Far above what a bench sends, so both setups run their rate limiter on every request and reject none.
const UNLIMITED = "1000000000";

export interface Target {
  name: TargetName;
  server: BenchServer;
  redis: BenchRedis;
  /** `Cookie` header of the bench user's session. */
  cookie: string;
  /** A bearer session token and a personal access token of the bench user (ours only). */
  bearer?: string;
  pat?: string;
  /**
   * Median Redis round trip as the server sees it, before the load: through the delay proxy, after its
   * calibration, when there is one; ms.
   */
  redisRttMs: number;
  /** The same without the delay proxy (equal to redisRttMs when there is none), ms. */
  redisDirectRttMs: number;
  /** The Redis URL the server uses: the delay proxy's, when there is one. */
  serverRedisUrl: string;
  /** The delay proxy's process, when there is one. */
  proxyPid?: number;
  /** What the proxy's calibration took off the asked delay in each direction (its own hops), ms. */
  proxyTrimMs?: number;
  /** Scenario name -> why it cannot run against this target (e.g. route missing). */
  unavailable: Record<string, string>;
}

export interface TargetContext {
  cwd: string;
  logDir: string;
  passwordLogN: number;
  openaiBaseUrl: string;
  /** DATABASE_URL + DATABASE_SCHEMA, or DATA_DIR for the embedded PGlite. */
  databaseEnv: Record<string, string>;
  profileDir?: string;
  oursNodeArgs: string[];
  /** Delay each way between server and Redis (a TCP proxy), ms; 0: direct. */
  netDelayMs: number;
  oursWorkers: number;
}

/** Only what node and tsx need from the outer environment: nothing of the caller's config leaks in. */
function baseEnv(): NodeJS.ProcessEnv {
  const keep = ["PATH", "HOME", "TMPDIR", "LANG", "TZ"];
  return Object.fromEntries(keep.filter((k) => process.env[k]).map((k) => [k, process.env[k]]));
}

function nodeArgs(entry: string, name: string, ctx: TargetContext): string[] {
  // One directory per target: node writes one profile per thread (tsx runs its loader on a worker).
  const profile = ctx.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${join(ctx.profileDir, name)}`] : [];
  const extra = name === "ours" ? ctx.oursNodeArgs : [];
  return [...profile, ...extra, "--import", "tsx", entry];
}

/** The product as production runs it, with limits raised so that no bench request is rejected. */
function oursEnv(port: number, redisUrl: string, ctx: TargetContext): NodeJS.ProcessEnv {
  return {
    ...baseEnv(),
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(port),
    LOG_LEVEL: "info",
    REDIS_URL: redisUrl,
    SESSION_SECRET: randomBytes(48).toString("base64"),
    MFA_ENCRYPTION_KEY: randomBytes(48).toString("base64"),
    // The origin production needs named (mails, passkeys): the one it used to fall back to.
    PUBLIC_URL: `http://localhost:${port}`,
    COOKIE_SECURE: "false", // the bench speaks plain HTTP on loopback
    TRUST_PROXY: "0",
    KEY_PREFIX: "bench",
    PASSWORD_SCRYPT_LOG_N: String(ctx.passwordLogN),
    OPENAI_API_KEY: OPENAI_KEY,
    OPENAI_BASE_URL: ctx.openaiBaseUrl,
    ...ctx.databaseEnv,
    // Rate limits: every policy still runs its Redis check; none rejects.
    RATE_LIMIT_GLOBAL_LIMIT: UNLIMITED,
    RATE_LIMIT_LOGIN_LIMIT: UNLIMITED,
    RATE_LIMIT_LOGIN_ACCOUNT_LIMIT: UNLIMITED,
    RATE_LIMIT_API_LIMIT: UNLIMITED,
    WEB_CONCURRENCY: String(ctx.oursWorkers),
    // BENCH_SESSION_DURABLE=off measures ours without durable session records (the "before").
    SESSION_DURABLE: process.env.BENCH_SESSION_DURABLE === "off" ? "off" : "on",
  };
}

function baselineEnv(port: number, redisUrl: string, ctx: TargetContext): NodeJS.ProcessEnv {
  return {
    ...baseEnv(),
    NODE_ENV: "production",
    PORT: String(port),
    REDIS_URL: redisUrl,
    SESSION_SECRET: randomBytes(48).toString("base64"),
    BENCH_EMAIL,
    BENCH_PASSWORD,
    PASSWORD_SCRYPT_LOG_N: String(ctx.passwordLogN),
    OPENAI_API_KEY: OPENAI_KEY,
    OPENAI_BASE_URL: ctx.openaiBaseUrl,
    RATE_LIMIT: UNLIMITED,
  };
}

async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

function sessionCookie(res: Response): string | undefined {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0] as string)
    .find((c) => c.startsWith("sid=") || c.startsWith("connect.sid="));
}

/** Median of 50 sequential PINGs to `url`, ms. */
async function medianPingMs(url: string): Promise<number> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const start = performance.now();
      await client.ping();
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    return times[times.length >> 1] as number;
  } finally {
    client.disconnect();
  }
}

/** Starts one target (its own Redis, then the server) and logs the bench user in once. */
export async function startTarget(name: TargetName, ctx: TargetContext): Promise<Target> {
  const redis = await startRedis();
  // The server reaches its Redis through the proxy; the bench's own control client stays direct.
  let serverRedisUrl = redis.url;
  let proxy: DelayProxy | undefined;
  if (ctx.netDelayMs > 0) {
    proxy = await startDelayProxy({ host: "127.0.0.1", port: redis.port }, ctx.netDelayMs);
    onCleanup(() => proxy?.close());
    serverRedisUrl = proxy.url;
  }
  const redisRttMs = proxy ? proxy.rttMs : await medianPingMs(serverRedisUrl);
  const redisDirectRttMs = proxy ? proxy.directRttMs : redisRttMs;
  const proxyPid = proxy?.pid;
  const port = await freePort();
  const isOurs = name === "ours";
  const server = await startServer({
    name,
    cwd: ctx.cwd,
    args: nodeArgs(isOurs ? "server/main.ts" : "bench/baseline/server.ts", name, ctx),
    env: isOurs ? oursEnv(port, serverRedisUrl, ctx) : baselineEnv(port, serverRedisUrl, ctx),
    port,
    logFile: join(ctx.logDir, `${name}.log`),
  });

  if (isOurs) {
    // A fresh database each run: register the user (the product hashes at the configured cost).
    const reg = await post(`${server.url}/auth/register`, { email: BENCH_EMAIL, password: BENCH_PASSWORD });
    await reg.arrayBuffer();
    if (reg.status !== 201 && reg.status !== 409) throw new Error(`${name}: register answered ${reg.status}`);
  }
  const login = await post(`${server.url}/auth/login`, { email: BENCH_EMAIL, password: BENCH_PASSWORD });
  const answer = (await login.json().catch(() => ({}))) as { mfaRequired?: boolean };
  const cookie = sessionCookie(login);
  if (login.status !== 200 || !cookie)
    throw new Error(`${name}: login answered ${login.status} without a session cookie`);
  // The login scenario measures a whole sign-in of a user without a second factor (the factor lookup
  // included), comparable with a build from before second factors; a pending sign-in would not be.
  if (answer.mfaRequired)
    throw new Error(`${name}: the bench user has a second factor; login would stop halfway`);

  const me = await fetch(`${server.url}/auth/me`, { headers: { cookie } });
  await me.arrayBuffer();
  if (me.status !== 200)
    throw new Error(`${name}: GET /auth/me with the session cookie answered ${me.status}`);

  const unavailable: Record<string, string> = {};
  const models = await fetch(`${server.url}/api/models`, { headers: { cookie } });
  const text = await models.text();
  if (models.status !== 200)
    unavailable.cache = `GET /api/models answered ${models.status}: ${text.slice(0, 120)}`;
  const verify = await fetch(`${server.url}/auth/verify`, { headers: { cookie } });
  if (verify.status !== 200) unavailable["forward-auth"] = `GET /auth/verify answered ${verify.status}`;
  const tokens = isOurs ? await clientTokens(server.url, cookie) : {};
  if (!tokens.bearer) unavailable.bearer = "no bearer sessions (POST /auth/token)";
  if (!tokens.pat) unavailable.pat = "no personal access tokens (POST /auth/tokens)";
  return {
    name,
    server,
    redis,
    redisRttMs,
    redisDirectRttMs,
    serverRedisUrl,
    proxyPid,
    proxyTrimMs: proxy?.trimMs,
    cookie,
    ...tokens,
    unavailable,
  };
}

/** A bearer session (a second login) and a personal access token of the bench user, each checked once. */
async function clientTokens(url: string, cookie: string): Promise<{ bearer?: string; pat?: string }> {
  const session = await post(`${url}/auth/token`, { email: BENCH_EMAIL, password: BENCH_PASSWORD });
  const bearer = session.status === 200 ? ((await session.json()) as { token: string }).token : undefined;
  // The login just made is a recent authentication: creating a token needs one.
  const created = await fetch(`${url}/auth/tokens`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie },
    body: JSON.stringify({ name: "bench", scopes: [], expiresInDays: 1 }),
  });
  const pat = created.status === 201 ? ((await created.json()) as { token: string }).token : undefined;
  for (const token of [bearer, pat]) {
    if (!token) continue;
    const me = await fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    await me.arrayBuffer();
    if (me.status !== 200) throw new Error(`GET /auth/me with a token answered ${me.status}`);
  }
  return { bearer, pat };
}
