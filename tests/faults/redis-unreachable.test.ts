import { createHmac, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TEST_SECRET, uniquePrefix } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { freePort } from "../helpers/ports.js";
import { type ServerProcess, startServerProcess } from "../helpers/processes.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";

// Redis unreachable, as the real process sees it: every request that needs Redis gets a complete 503
// JSON answer (never a reset), and the log tells the outage in a few JSON lines, not a line per request.

let database: TestDatabase;
const redisServers: RedisServer[] = [];
const running: ServerProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  for (const p of running) await p.stop("SIGKILL");
  for (const r of redisServers) await r.stop();
  await database?.close();
});

function env(redisUrl: string): Record<string, string> {
  return {
    // Not "test": Express stays silent in test mode, and its default error printer is what must not run.
    NODE_ENV: "development",
    REDIS_URL: redisUrl,
    REDIS_COMMAND_TIMEOUT_MS: "200",
    // An outage's end is logged after an interval without failures: 2 s here instead of the default 10 s.
    LOG_REPEAT_INTERVAL_MS: "2000",
    RATE_LIMIT_GLOBAL_LIMIT: "1000000",
    SESSION_SECRET: TEST_SECRET,
    KEY_PREFIX: uniquePrefix(),
    PASSWORD_SCRYPT_LOG_N: "10",
    ...database.env,
  };
}

/** A session cookie express-session accepts as genuine (signed with the secret), so it reads Redis. */
function signedCookie(): string {
  const sid = randomBytes(16).toString("hex");
  const mac = createHmac("sha256", TEST_SECRET).update(sid).digest("base64").replace(/=+$/, "");
  return `sid=${encodeURIComponent(`s:${sid}.${mac}`)}`;
}

/** `n` concurrent requests needing Redis; each resolves to its status, or "reset" if the answer was cut. */
async function burst(url: string, n: number): Promise<Array<number | "reset" | "not-json">> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      try {
        const res = await fetch(`${url}/auth/me`, { headers: { cookie: signedCookie() } });
        const body = (await res.json()) as { error?: { code?: string } };
        return body.error?.code === "service_unavailable" ? res.status : "not-json";
      } catch {
        return "reset";
      }
    }),
  );
}

interface Line {
  msg: string;
  episode?: string;
  err?: { code?: string; reason?: string };
}

function parseLines(output: string): { lines: Line[]; notJson: string[] } {
  const lines: Line[] = [];
  const notJson: string[] = [];
  for (const text of output.split("\n").filter(Boolean)) {
    try {
      lines.push(JSON.parse(text) as Line);
    } catch {
      notJson.push(text);
    }
  }
  return { lines, notJson };
}

describe.skipIf(process.env.SKIP_SLOW === "1")("Redis unreachable", () => {
  it("answers complete 503s and logs the outage as a few JSON lines: start, count, end", async () => {
    const redis = await startRedisServer();
    redisServers.push(redis);
    const proc = await startServerProcess(env(redis.url));
    running.push(proc);
    // Redis answers: an unknown session is simply not logged in.
    expect((await fetch(`${proc.url}/auth/me`, { headers: { cookie: signedCookie() } })).status).toBe(401);

    await redis.kill();
    const before = proc.output().length;
    const statuses = [
      ...(await burst(proc.url, 100)),
      ...(await burst(proc.url, 100)),
      ...(await burst(proc.url, 100)),
    ];
    expect(statuses.filter((s) => s !== 503)).toEqual([]);

    await redis.start();
    await vi.waitFor(() => expect(proc.output().slice(before)).toContain('"msg":"redis ready"'), {
      timeout: 15_000,
      interval: 100,
    });
    // The request failures end once a full interval passes without one.
    await vi.waitFor(() => expect(proc.output()).toContain('"msg":"request failed: ended"'), {
      timeout: 25_000,
      interval: 200,
    });

    const { lines, notJson } = parseLines(proc.output().slice(before));
    expect(notJson).toEqual([]);
    const outage = lines.filter((l) => l.msg !== "request");
    console.log(
      `Redis unreachable, 300 requests: ${outage.length} log lines besides the access log, ${proc.output().length - before} bytes in all`,
    );
    expect(outage.length).toBeLessThan(25);
    const redisError = outage.find((l) => l.msg === "redis error" && l.episode === "start");
    expect(redisError?.err?.reason).toBe("connection refused");
    expect(outage.some((l) => l.msg === "redis error: ended")).toBe(true);
    expect(outage.some((l) => l.msg === "request failed" && l.episode === "start")).toBe(true);
    const ended = outage.find((l) => l.msg === "request failed: ended") as Line & { count?: number };
    expect(ended?.count).toBe(300);
  });

  it("starts when nothing listens on the Redis port, names the cause and answers complete 503s", async () => {
    const port = await freePort();
    const proc = await startServerProcess(env(`redis://127.0.0.1:${port}`));
    running.push(proc);
    const statuses = await burst(proc.url, 50);
    expect(statuses.filter((s) => s !== 503)).toEqual([]);
    const { lines, notJson } = parseLines(proc.output());
    expect(notJson).toEqual([]);
    const boot = lines.find((l) => l.msg.startsWith("redis not reachable at boot"));
    expect(boot?.err).toMatchObject({ code: "ECONNREFUSED", reason: "connection refused" });
    expect(lines.filter((l) => l.msg !== "request").length).toBeLessThan(20);
  });
});
