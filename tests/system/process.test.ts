import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_SECRET, uniquePrefix } from "../helpers/app.js";
import type { TestDatabase } from "../helpers/database.js";
import { type SharedRedis, sharedRedis, testDatabase } from "../helpers/fixtures.js";
import { runProcess, type ServerProcess, startServerProcess } from "../helpers/processes.js";
import { uniqueEmail } from "../helpers/session.js";
import { sleep } from "../helpers/sleep.js";

let redisServer: SharedRedis;
let database: TestDatabase | undefined;
const running: ServerProcess[] = [];

beforeAll(async () => {
  redisServer = await sharedRedis();
  // Only the tests on PostgreSQL give the server a database; the embedded one makes its own.
  if (hasPostgres()) database = await testDatabase();
});

afterAll(async () => {
  for (const p of running) await p.stop("SIGKILL");
});

function baseEnv(): Record<string, string> {
  return {
    NODE_ENV: "test",
    REDIS_URL: redisServer.url,
    SESSION_SECRET: TEST_SECRET,
    KEY_PREFIX: uniquePrefix(),
    PASSWORD_SCRYPT_LOG_N: "10",
    SHUTDOWN_TIMEOUT_MS: "5000",
    ...database?.env,
  };
}

async function post(url: string, body: unknown, cookie?: string) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(body),
  });
}

const hasPostgres = () => Boolean(process.env.TEST_DATABASE_URL);

describe("the server process", () => {
  it.runIf(hasPostgres())("keeps sessions across a restart and shuts down cleanly on SIGTERM", async () => {
    const env = baseEnv();
    const first = await startServerProcess(env);
    running.push(first);
    const email = uniqueEmail("proc");
    const reg = await post(`${first.url}/auth/register`, { email, password: "password-123" });
    expect(reg.status).toBe(201);
    const cookie = reg.headers.get("set-cookie")!.split(";")[0]!;

    expect(await first.stop("SIGTERM")).toBe(0);
    expect(first.output()).toMatch(/"msg":"stopped"/);

    const second = await startServerProcess(env, first.port);
    running.push(second);
    const me = await fetch(`${second.url}/auth/me`, { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { email: string } }).user.email).toBe(email);
    expect(await second.stop("SIGINT")).toBe(0);
  });

  it.runIf(hasPostgres())("finishes an in-flight request before exiting on SIGTERM", async () => {
    // The production password cost makes registration slow enough to be in flight when the signal lands.
    const proc = await startServerProcess({ ...baseEnv(), PASSWORD_SCRYPT_LOG_N: "17" });
    running.push(proc);
    const inFlight = post(`${proc.url}/auth/register`, {
      email: uniqueEmail("slow"),
      password: "password-123",
    });
    await sleep(150);
    proc.child.kill("SIGTERM");
    const res = await inFlight;
    expect(res.status).toBe(201);
    expect(await proc.exited).toBe(0);
    await expect(fetch(`${proc.url}/health/live`)).rejects.toThrow();
  });

  // Creating the embedded database (initdb in WebAssembly) is slow on a busy machine.
  it("starts with embedded defaults: no Redis, no DATABASE_URL", { timeout: 150_000 }, async () => {
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const proc = await startServerProcess(
      { DATA_DIR: mkdtempSync(join(tmpdir(), "embedded-")), PASSWORD_SCRYPT_LOG_N: "10" },
      undefined,
      140_000,
    );
    running.push(proc);
    const reg = await post(`${proc.url}/auth/register`, {
      email: uniqueEmail("embedded"),
      password: "password-123",
    });
    expect(reg.status).toBe(201);
    const cookie = reg.headers.get("set-cookie")!.split(";")[0]!;
    expect((await fetch(`${proc.url}/auth/me`, { headers: { cookie } })).status).toBe(200);
    expect(proc.output()).toMatch(/sessions are kept in this process only/);
    expect(proc.output()).toMatch(/SESSION_SECRET is not set/);
    expect(await proc.stop()).toBe(0);
  });

  it("exits non-zero with a clear JSON line when its port is taken", async () => {
    const { createServer } = await import("node:net");
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const { code, output: out } = await runProcess("server/main.ts", {
        ...baseEnv(),
        HOST: "127.0.0.1",
        PORT: String(port),
      });
      expect(code).toBe(1);
      const lines = out.split("\n").filter(Boolean);
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
      const fatal = lines.map(
        (l) => JSON.parse(l) as { level: string; msg: string; err?: { code?: string } },
      );
      expect(fatal.some((l) => l.msg === "listening")).toBe(false);
      expect(fatal.find((l) => l.level === "fatal")).toMatchObject({
        msg: `cannot listen: port ${port} on 127.0.0.1 is already in use`,
        err: { code: "EADDRINUSE" },
      });
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it("cuts off a request whose body does not arrive within HTTP_REQUEST_TIMEOUT_MS", async () => {
    const { connect } = await import("node:net");
    const proc = await startServerProcess({
      ...baseEnv(),
      HTTP_REQUEST_TIMEOUT_MS: "1000",
      HTTP_HEADERS_TIMEOUT_MS: "1000",
    });
    running.push(proc);
    const socket = connect(proc.port, "127.0.0.1");
    const start = Date.now();
    let reply = "";
    socket.on("data", (d) => {
      reply += d;
    });
    socket.write(
      "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    );
    await new Promise((resolve) => socket.once("close", resolve));
    const ms = Date.now() - start;
    // Node checks the bound once a second: a slow body is cut between 1 and ~2 s, never minutes.
    expect(ms).toBeLessThan(5000);
    expect(reply).toMatch(/^HTTP\/1\.1 408/);
    await proc.stop("SIGKILL");
  });
});
