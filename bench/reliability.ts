// Fault scenarios against the real server: does every session survive, and does the server answer
// honestly (503, never 500 or a reset) while Redis stalls, restarts, evicts or runs out of memory?
// Usage: npm run reliability [-- --sessions 50] [--only freeze,pause] [--write docs/internals/reliability.md]
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { freePort, waitForPort } from "../tests/helpers/ports.js";
import { startTcpProxy } from "../tests/helpers/tcp-proxy.js";
import { cleanup, installSignalHandlers, onCleanup } from "./processes.js";
import { percentile } from "./stats.js";

interface Reply {
  status: number; // 0 when the connection failed or was reset
  ms: number;
  error?: string;
  body?: string;
}

interface RedisProc {
  port: number;
  url: string;
  pid(): number;
  kill(): Promise<void>;
  start(): Promise<void>;
  client(): Redis;
}

const COOKIE = "sid";
const KEY_PREFIX = "rel";
const PASSWORD = "reliability-password-0";

function startRedis(extraArgs: string[], dir: string): Promise<RedisProc> {
  return (async () => {
    const port = await freePort();
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--loglevel", "warning"];
    args.push(...extraArgs);
    let child: ChildProcess | undefined;
    const start = async () => {
      child = spawn("redis-server", args, { stdio: "ignore" });
      await waitForPort(port);
    };
    const kill = async () => {
      const proc = child;
      child = undefined;
      if (!proc || proc.exitCode !== null) return;
      proc.kill("SIGCONT");
      await new Promise<void>((resolve) => {
        proc.once("exit", () => resolve());
        proc.kill("SIGKILL");
      });
    };
    await start();
    onCleanup(kill);
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      pid: () => child?.pid ?? 0,
      kill,
      start,
      client: () => {
        const c = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
        c.on("error", () => undefined); // the harness' own connection may see the fault it injects
        return c;
      },
    };
  })();
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function call(base: string, method: string, path: string, cookie?: string, body?: unknown): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${base}${path}`,
      {
        method,
        agent,
        timeout: 15_000,
        headers: {
          ...(cookie ? { cookie } : {}),
          ...(payload
            ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const reply: Reply = {
            status: res.statusCode ?? 0,
            ms: performance.now() - started,
            body: Buffer.concat(chunks).toString("utf8"),
          };
          const setCookie = ([] as string[]).concat(res.headers["set-cookie"] ?? []);
          const sid = setCookie.find((c) => c.startsWith(`${COOKIE}=`));
          if (sid) (reply as Reply & { cookie?: string }).cookie = sid.split(";")[0];
          resolve(reply);
        });
        res.on("error", (err) => resolve({ status: 0, ms: performance.now() - started, error: err.message }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("client timeout")));
    req.on("error", (err) => resolve({ status: 0, ms: performance.now() - started, error: err.message }));
    req.end(payload);
  });
}

async function startApp(redisUrl: string, dir: string, extraEnv: Record<string, string> = {}) {
  const port = await freePort();
  const logFile = join(dir, "server.log");
  const database = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(port),
    LOG_LEVEL: "info",
    REDIS_URL: redisUrl,
    SESSION_SECRET: randomBytes(48).toString("base64"),
    MFA_ENCRYPTION_KEY: randomBytes(48).toString("base64"),
    // The origin production needs named (mails, passkeys): the one it used to fall back to.
    PUBLIC_URL: `http://localhost:${port}`,
    COOKIE_SECURE: "false", // plain HTTP on loopback
    SESSION_COOKIE_NAME: COOKIE,
    TRUST_PROXY: "0",
    KEY_PREFIX,
    DATABASE_URL: database,
    DATABASE_SCHEMA: `rel_${randomBytes(4).toString("hex")}`,
    PASSWORD_SCRYPT_LOG_N: "10",
    PASSWORD_HASH_PER_CLIENT_MAX: "64", // every user here registers from the one loopback address
    RATE_LIMIT_GLOBAL_LIMIT: "1000000000",
    RATE_LIMIT_LOGIN_LIMIT: "1000000000",
    RATE_LIMIT_LOGIN_ACCOUNT_LIMIT: "1000000000",
    RATE_LIMIT_API_LIMIT: "1000000000",
    METRICS_PUBLIC: "true", // the durable sessions' counters are read from /metrics
    ...extraEnv,
  };
  const fd = openSync(logFile, "w");
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
    env,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  onCleanup(async () => {
    if (child.exitCode !== null) return;
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`server exited:\n${readFileSync(logFile, "utf8").slice(-2000)}`);
    const r = await call(base, "GET", "/health/live");
    if (r.status === 200) break;
    if (Date.now() > deadline) throw new Error("server not ready after 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base, logFile };
}

async function loginUsers(base: string, n: number): Promise<string[]> {
  const tag = randomBytes(3).toString("hex");
  const cookies: string[] = [];
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, async (_, j) => {
        const email = `rel-${tag}-${i + j}@example.com`;
        const reg = (await call(base, "POST", "/auth/register", undefined, {
          email,
          password: PASSWORD,
        })) as Reply & {
          cookie?: string;
        };
        if (reg.status !== 201 || !reg.cookie)
          throw new Error(`register answered ${reg.status}: ${reg.body}`);
        return reg.cookie;
      }),
    );
    cookies.push(...batch);
  }
  return cookies;
}

/** Every cookie asks GET /auth/me in a loop until `stop()`; returns every reply. */
function load(base: string, cookies: string[], intervalMs: number) {
  const replies: Reply[] = [];
  let running = true;
  const loops = cookies.map(async (cookie, i) => {
    await new Promise((r) => setTimeout(r, (i * intervalMs) / cookies.length));
    while (running) {
      const started = Date.now();
      replies.push(await call(base, "GET", "/auth/me", cookie));
      const wait = intervalMs - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return replies;
    },
  };
}

async function waitReady(base: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const r = await call(base, "GET", "/health/ready");
    if (r.status === 200) return Date.now() - started;
    if (Date.now() - started > timeoutMs) return -1;
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** The durable sessions' counters from /metrics (METRICS_PUBLIC=true). */
async function durableCounters(base: string): Promise<{ restores: number; queries: number }> {
  const body = (await call(base, "GET", "/metrics")).body ?? "";
  const value = (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(body)?.[1] ?? 0);
  return { restores: value("session_restores_total"), queries: value("session_durable_queries_total") };
}

/** Cookies that still answer 200, asked 25 at a time (so an overloaded machine answers them all in time). */
async function sessionsKept(base: string, cookies: string[]): Promise<number> {
  let kept = 0;
  for (let i = 0; i < cookies.length; i += 25) {
    const replies = await Promise.all(cookies.slice(i, i + 25).map((c) => call(base, "GET", "/auth/me", c)));
    kept += replies.filter((r) => r.status === 200).length;
  }
  return kept;
}

/** How many of the users' session keys still exist in Redis (before any request could recreate one). */
async function sessionKeysLeft(redis: Redis, cookies: string[]): Promise<number> {
  const keys = cookies.map((c) => {
    const value = decodeURIComponent(c.slice(c.indexOf("=") + 1));
    return `${KEY_PREFIX}:sess:${value.slice(2, value.lastIndexOf("."))}`;
  });
  try {
    return (await Promise.all(keys.map((k) => redis.exists(k)))).reduce((a, b) => a + b, 0);
  } catch {
    return -1;
  }
}

function commandCalls(info: string, command: string): number {
  const m = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(info);
  return m ? Number(m[1]) : 0;
}

/** `503 unhealthy (out_of_memory), audit warnings: memory_full`: what an operator reads in /health/redis. */
function healthNote(reply: Reply): string {
  try {
    const body = JSON.parse(reply.body ?? "{}") as {
      status?: string;
      reason?: string;
      audit?: { warnings?: Array<{ code: string }> };
    };
    const warnings = (body.audit?.warnings ?? []).map((w) => w.code).join(", ");
    return `${reply.status} ${body.status}${body.reason ? ` (${body.reason})` : ""}${warnings ? `, audit warnings: ${warnings}` : ""}`;
  } catch {
    return String(reply.status);
  }
}

function logFacts(logFile: string) {
  const lines = readFileSync(logFile, "utf8").split("\n").filter(Boolean);
  const nonJson = lines.filter((l) => {
    try {
      JSON.parse(l);
      return false;
    } catch {
      return true;
    }
  }).length;
  return { lines: lines.length, nonJson, text: lines.join("\n") };
}

interface Row {
  scenario: string;
  fault: string;
  promise: string;
  sessions: string;
  ok: number;
  unavailable: number;
  otherErrors: number;
  resets: number;
  p99: number;
  deletes: number;
  keysLeft: number;
  /** Sessions restored from their durable records during the run. */
  restores: number;
  /** Database statements for the durable records, per restore. */
  queriesPerRestore: number;
  /** The most database statements for the records in one second of the run (the restore wave). */
  peakQueriesPerSecond: number;
  logLines: string;
  notes: string;
}

interface Scenario {
  name: string;
  fault: string;
  promise: string;
  redisArgs: string[];
  /**
   * A replica of the scenario's Redis behind a TCP proxy the server connects through: half the users
   * log in while it replicates, the other half after replication stopped; `failover` kills the primary
   * and points the proxy at the replica, which never received the late logins.
   */
  replica?: boolean;
  /** Runs the fault while the load runs; returns notes. */
  inject(ctx: {
    redis: RedisProc;
    base: string;
    cookies: string[];
    failover: () => Promise<void>;
  }): Promise<string>;
  /** Sessions the promise allows to be lost (eviction under an evicting policy is reported, not promised). */
  expectLoss?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const AOF = ["--appendonly", "yes", "--appendfsync", "always", "--save", ""];

const SCENARIOS: Scenario[] = [
  {
    name: "freeze",
    fault: "Redis frozen 1.5 s (SIGSTOP, SIGCONT)",
    promise: "503 during, every session afterwards",
    redisArgs: AOF,
    async inject({ redis }) {
      process.kill(redis.pid(), "SIGSTOP");
      await sleep(1500);
      process.kill(redis.pid(), "SIGCONT");
      return "";
    },
  },
  {
    name: "pause",
    fault: "CLIENT PAUSE 1500 WRITE",
    promise: "503 or 200 during, every session afterwards",
    redisArgs: AOF,
    async inject({ redis }) {
      const c = redis.client();
      await c.call("CLIENT", "PAUSE", "1500", "WRITE");
      await sleep(1700);
      c.disconnect();
      return "";
    },
  },
  {
    name: "script",
    fault: "a 1.2 s Lua script from another client",
    promise: "503 during, every session afterwards",
    redisArgs: AOF,
    async inject({ redis }) {
      const c = redis.client();
      const busy =
        "local s=redis.call('TIME') local t0=s[1]*1000000+s[2] while true do local n=redis.call('TIME') if n[1]*1000000+n[2]-t0>tonumber(ARGV[1]) then break end end return 1";
      c.options.commandTimeout = undefined;
      await c.eval(busy, 0, "1200000");
      c.disconnect();
      await sleep(200);
      return "";
    },
  },
  {
    name: "restart",
    fault: "Redis SIGKILL, restarted 1 s later with AOF",
    promise: "503 while down, every session afterwards",
    redisArgs: AOF,
    async inject({ redis }) {
      await redis.kill();
      await sleep(1000);
      await redis.start();
      return "";
    },
  },
  {
    name: "unreachable",
    fault: "Redis down 4 s (nothing listening)",
    promise: "complete 503s, no resets, a few JSON log lines",
    redisArgs: AOF,
    async inject({ redis }) {
      await redis.kill();
      await sleep(4000);
      await redis.start();
      return "";
    },
  },
  {
    name: "evicting",
    fault: "maxmemory 2 MB, allkeys-lru, filled by another client",
    promise: "every session afterwards (restored from its durable record); a warning in /health/redis",
    redisArgs: ["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru", ...AOF],
    async inject({ redis, base }) {
      const c = redis.client();
      const blob = "x".repeat(10_000);
      for (let i = 0; i < 400; i++) await c.set(`filler:${i}`, blob);
      c.disconnect();
      const health = await call(base, "GET", "/health/redis");
      return `/health/redis ${healthNote(health)}`;
    },
  },
  {
    name: "flush",
    fault: "FLUSHALL",
    promise: "every session afterwards (restored from its durable record)",
    redisArgs: AOF,
    async inject({ redis }) {
      const c = redis.client();
      await c.flushall();
      c.disconnect();
      return "";
    },
  },
  {
    name: "restart-empty",
    fault: "Redis SIGKILL, restarted 1 s later without persistence",
    promise: "503 while down, every session afterwards (restored from its durable record)",
    redisArgs: ["--appendonly", "no", "--save", ""],
    async inject({ redis }) {
      await redis.kill();
      await sleep(1000);
      await redis.start();
      return "";
    },
  },
  {
    name: "replica",
    fault: "replication stopped, 25 more logins, primary killed, replica promoted",
    promise: "every session afterwards, the late logins too (restored from their durable records)",
    redisArgs: ["--appendonly", "no", "--save", ""],
    replica: true,
    async inject({ failover }) {
      await failover();
      return "";
    },
  },
  {
    name: "full",
    fault: "noeviction, full (maxmemory below used memory), then freed",
    promise: "login 503 and Redis unhealthy in /health/redis while full; sessions kept",
    redisArgs: ["--maxmemory", "4mb", "--maxmemory-policy", "noeviction", ...AOF],
    async inject({ redis, base }) {
      const c = redis.client();
      // A 2 MB value written with no limit, then the limit set below what is used: full for good (filling
      // until the first OOM is not, the refused command's buffer is freed right after).
      await c.config("SET", "maxmemory", "0");
      // In 64 KB pieces: one 2 MB command holds a 2 MB query buffer, freed a moment later.
      const piece = "x".repeat(64 * 1024);
      for (let i = 0; i < 32; i++) await c.append("filler:0", piece);
      const used = Number(/^used_memory:(\d+)/m.exec(await c.info("memory"))?.[1]);
      await c.config("SET", "maxmemory", String(used - 512 * 1024));
      const login = await call(base, "POST", "/auth/register", undefined, {
        email: `full-${randomBytes(3).toString("hex")}@example.com`,
        password: PASSWORD,
      });
      await sleep(500);
      const health = await call(base, "GET", "/health/redis");
      await c.del("filler:0");
      c.disconnect();
      return `while full: register ${login.status}, /health/redis ${healthNote(health)}`;
    },
  },
];

/** A primary, its replica and a proxy in front of the primary that a failover points at the replica. */
async function replicated(redis: RedisProc, args: string[], dir: string) {
  const replica = await startRedis([...args, "--dbfilename", "replica.rdb"], dir);
  const control = replica.client();
  await control.replicaof("127.0.0.1", String(redis.port));
  const target = { host: "127.0.0.1", port: redis.port };
  const proxy = await startTcpProxy(target);
  onCleanup(() => proxy.close());
  return {
    replica,
    url: `redis://127.0.0.1:${proxy.port}`,
    /** Waits until the replica has every write so far, then detaches it. */
    async stopReplication() {
      const primary = redis.client();
      for (let i = 0; i < 100; i++) {
        const offset = (info: string, field: string) =>
          Number(new RegExp(`^${field}:(\\d+)`, "m").exec(info)?.[1]);
        const p = offset(await primary.info("replication"), "master_repl_offset");
        const r = offset(await control.info("replication"), "master_repl_offset");
        if (r >= p && p > 0) break;
        await sleep(50);
      }
      primary.disconnect();
      await control.replicaof("NO", "ONE");
      control.disconnect();
    },
    async failover() {
      await proxy.cut("refuse");
      await redis.kill();
      target.port = replica.port;
      await proxy.restore();
    },
  };
}

/** Samples the durable records' statement counter every 250 ms; `peak()` is the highest rate per second. */
function sampleQueries(base: string) {
  let running = true;
  let peak = 0;
  const loop = (async () => {
    let last = await durableCounters(base);
    let at = performance.now();
    while (running) {
      await sleep(250);
      const now = await durableCounters(base);
      const t = performance.now();
      peak = Math.max(peak, ((now.queries - last.queries) * 1000) / (t - at));
      last = now;
      at = t;
    }
  })();
  return {
    async peak() {
      running = false;
      await loop;
      return peak;
    },
  };
}

async function runScenario(s: Scenario, sessions: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), `reliability-${s.name}-`));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const redis = await startRedis(s.redisArgs, dir);
  const pair = s.replica ? await replicated(redis, s.redisArgs, dir) : undefined;
  const app = await startApp(pair?.url ?? redis.url, dir);
  const early = pair ? Math.floor(sessions / 2) : sessions;
  const cookies = await loginUsers(app.base, early);
  if (pair) {
    await pair.stopReplication();
    cookies.push(...(await loginUsers(app.base, sessions - early)));
  }
  const admin = (pair?.replica ?? redis).client();
  await admin.config("RESETSTAT");
  const counted = await durableCounters(app.base);
  const sampler = sampleQueries(app.base);
  const traffic = load(app.base, cookies, 200);
  await sleep(500);
  const failover = async () => {
    if (!pair) throw new Error("this scenario has no replica");
    await pair.failover();
  };
  const notes = await s.inject({ redis, base: app.base, cookies, failover });
  await sleep(1000);
  const replies = await traffic.stop();
  const readyMs = await waitReady(app.base, 20_000);
  const left = await sessionKeysLeft(admin, cookies);
  const kept = await sessionsKept(app.base, cookies);
  const counters = await durableCounters(app.base);
  const peakQueriesPerSecond = await sampler.peak();
  const restores = counters.restores - counted.restores;
  let deletes = -1;
  try {
    const info = await admin.info("commandstats");
    deletes = commandCalls(info, "del") + commandCalls(info, "unlink");
  } catch {
    // the stats of a restarted Redis start from zero anyway
  }
  admin.disconnect();
  const logs = logFacts(app.logFile);
  const warned = logs.text.includes('"evicting_policy"') ? "eviction warning logged at start-up" : "";
  return {
    scenario: s.name,
    fault: s.fault,
    promise: s.promise,
    sessions: `${kept}/${sessions}`,
    ok: replies.filter((r) => r.status === 200).length,
    unavailable: replies.filter((r) => r.status === 503).length,
    otherErrors: replies.filter((r) => r.status >= 400 && r.status !== 503).length,
    resets: replies.filter((r) => r.status === 0).length,
    p99: Math.round(
      percentile(
        replies.map((r) => r.ms),
        0.99,
      ),
    ),
    deletes,
    keysLeft: left,
    restores,
    queriesPerRestore: restores > 0 ? (counters.queries - counted.queries) / restores : 0,
    peakQueriesPerSecond,
    logLines: `${logs.lines} (${logs.nonJson} not JSON)`,
    notes: [readyMs < 0 ? "not ready 20 s after the fault" : "", warned, notes].filter(Boolean).join("; "),
  };
}

function table(rows: Row[]): string {
  const head =
    "| fault | promise | sessions kept | session keys left | restored | DB queries per restore | peak DB queries/s | 200 | 503 | other 4xx/5xx | resets | p99 ms | DEL calls (all keys) | log lines | notes |\n" +
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  return (
    head +
    rows
      .map(
        (r) =>
          `| ${r.fault} | ${r.promise} | ${r.sessions} | ${r.keysLeft} | ${r.restores} | ${r.restores ? r.queriesPerRestore.toFixed(2) : "-"} | ${r.restores ? Math.round(r.peakQueriesPerSecond) : "-"} | ${r.ok} | ${r.unavailable} | ${r.otherErrors} | ${r.resets} | ${r.p99} | ${r.deletes} | ${r.logLines} | ${r.notes.replace(/\|/g, "\\|").replace(/\n/g, " ")} |`,
      )
      .join("\n")
  );
}

async function main() {
  const { values } = parseArgs({
    options: {
      sessions: { type: "string", default: "50" },
      only: { type: "string" },
      write: { type: "string" },
    },
  });
  installSignalHandlers();
  const sessions = Number(values.sessions);
  const only = values.only?.split(",");
  const rows: Row[] = [];
  for (const s of SCENARIOS) {
    if (only && !only.includes(s.name)) continue;
    process.stderr.write(`reliability: ${s.name} ...\n`);
    try {
      rows.push(await runScenario(s, sessions));
    } finally {
      await cleanup();
    }
    process.stderr.write(`${table(rows.slice(-1)).split("\n").at(-1)}\n`);
  }
  const out = table(rows);
  process.stdout.write(`${out}\n`);
  if (values.write) {
    const doc = readFileSync(values.write, "utf8");
    const marker = /<!-- reliability:start -->[\s\S]*<!-- reliability:end -->/;
    const block = `<!-- reliability:start -->\n${out}\n<!-- reliability:end -->`;
    writeFileSync(values.write, marker.test(doc) ? doc.replace(marker, block) : `${doc}\n${block}\n`);
  }
}

main().catch(async (err: Error) => {
  process.stderr.write(`reliability: ${err.message}\n`);
  await cleanup();
  process.exit(1);
});
