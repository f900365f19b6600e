import { Redis as RedisNode } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildTestApp, type TestApp, uniquePrefix } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { listen } from "../helpers/listen.js";
import { type RedisCluster, startRedisCluster } from "../helpers/redis-cluster.js";
import { uniqueEmail } from "../helpers/session.js";

// One master of a Redis Cluster frozen with SIGSTOP: requests on its slots answer complete 503s (never a
// hang or a reset), the other masters go on serving, and the frozen slots answer again after SIGCONT.
// Known gap: ioredis creates each replacement node connection with an offline queue we cannot turn off,
// so every command on the frozen master waits one full command timeout instead of failing at once, and a
// request that sends several in a row (the session read, then express-session's destroy of a session it
// could not read) waits several: measured p50 ~1 s at a 200 ms command timeout, ~0.15 s on one server.

const COMMAND_TIMEOUT_MS = 200;
const FREEZE_MS = 2000;

let cluster: RedisCluster;
let database: TestDatabase;
let testApp: TestApp | undefined;
let server: { url: string; close(): Promise<void> } | undefined;
let frozenPid = 0;

beforeAll(async () => {
  cluster = await startRedisCluster();
  database = await createTestDatabase();
});

afterAll(async () => {
  if (frozenPid) {
    try {
      process.kill(frozenPid, "SIGCONT");
    } catch {
      // already gone
    }
  }
  await server?.close();
  await testApp?.close();
  await database?.close();
  await cluster?.stop();
});

async function timedGet(url: string, cookie: string): Promise<{ status: number; ms: number }> {
  const start = performance.now();
  const res = await fetch(url, { headers: { cookie } });
  await res.text(); // a reset rejects here and fails the test
  return { status: res.status, ms: performance.now() - start };
}

describe.skipIf(process.env.SKIP_SLOW === "1")("a frozen Redis Cluster master (SIGSTOP)", () => {
  it("answers complete 503s for its slots, keeps serving the others, and recovers", async () => {
    testApp = await buildTestApp({
      db: database.db,
      env: {
        REDIS_URL: cluster.url,
        REDIS_CLUSTER: "true",
        KEY_PREFIX: uniquePrefix(),
        REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
        RATE_LIMIT_GLOBAL_LIMIT: "1000000",
      },
    });
    server = await listen(testApp.app);
    const cookies: string[] = [];
    for (let i = 0; i < 9; i++) {
      const reg = await fetch(`${server.url}/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: uniqueEmail("cstall"), password: "password-123" }),
      });
      expect(reg.status).toBe(201);
      cookies.push((reg.headers.get("set-cookie") ?? "").split(";")[0] as string);
    }

    const victim = cluster.nodes[1]!;
    const admin = new RedisNode(victim.port, "127.0.0.1", { lazyConnect: true });
    await admin.connect();
    frozenPid = Number(/process_id:(\d+)/.exec(await admin.info("server"))?.[1]);
    admin.disconnect();

    process.kill(frozenPid, "SIGSTOP");
    const outcomes: Array<{ status: number; ms: number }> = [];
    const owners: string[] = []; // the cookie of each outcome
    const end = Date.now() + FREEZE_MS;
    try {
      await Promise.all(
        cookies.map(async (cookie) => {
          while (Date.now() < end) {
            outcomes.push(await timedGet(`${server!.url}/auth/me`, cookie));
            owners.push(cookie);
          }
        }),
      );
    } finally {
      process.kill(frozenPid, "SIGCONT");
    }
    const failed = outcomes.filter((o) => o.status !== 200);
    const served = outcomes.filter((o) => o.status === 200);
    expect(failed.every((o) => o.status === 503)).toBe(true);
    expect(failed.length).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThan(0); // the other masters kept answering
    const ms = failed.map((o) => o.ms).sort((a, b) => a - b);
    const p50 = ms[Math.floor(ms.length / 2)] ?? Number.NaN; // logged, not asserted: see the gap above
    const p99 = ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))] ?? Number.NaN;
    console.log(
      `frozen cluster master: ${outcomes.length} requests, ${failed.length} 503 (p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms), ${served.length} 200`,
    );
    expect(p99).toBeLessThan(2500);

    // Sessions on the other masters were never touched; the frozen master's slots answer again (whether
    // their sessions survived is the session store's promise, tested with it).
    const byCookie = new Map<string, number[]>();
    outcomes.forEach((o, i) => {
      const cookie = owners[i] as string;
      byCookie.set(cookie, [...(byCookie.get(cookie) ?? []), o.status]);
    });
    const untouched = cookies.filter((c) => byCookie.get(c)?.every((s) => s === 200));
    expect(untouched.length).toBeGreaterThan(0);
    for (const cookie of untouched) {
      expect((await timedGet(`${server.url}/auth/me`, cookie)).status).toBe(200);
    }
    await vi.waitFor(
      async () => {
        for (const cookie of cookies) {
          expect([200, 401]).toContain((await timedGet(`${server!.url}/auth/me`, cookie)).status);
        }
      },
      { timeout: 15_000, interval: 200 },
    );
  });
});
