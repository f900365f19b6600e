import { randomBytes } from "node:crypto";
import { get as httpGet } from "node:http";
import { beforeAll, describe, expect, it } from "vitest";
import type { MailJob } from "../../server/infra/mail/types.js";
import { TEST_SECRET, uniquePrefix } from "../helpers/app.js";
import { closeAfterFile, sharedRedis, waitUntil } from "../helpers/fixtures.js";
import { dropSchema } from "../helpers/global-setup.js";
import {
  listeningWorkers,
  logLines,
  requestPids,
  type ServerProcess,
  startServerProcess,
} from "../helpers/processes.js";
import { bullQueue, loopbackRedis } from "../helpers/queues.js";

// WEB_CONCURRENCY=2: the real entry point as a process, two workers sharing the port. Workers need a
// database server (the embedded one belongs to one process): the run's PostgreSQL, in a schema of this file.
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SHUTDOWN_DELAY_MS = 1500;

let server: ServerProcess;
const KEY_PREFIX = uniquePrefix();

/** GET on a new connection each time (round-robin hands out connections, not requests). */
function fresh(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet(`${server.url}${path}`, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
  });
}

const listeningPids = () => listeningWorkers(server.output());
const servedBy = (path: string) => requestPids(server.output(), path);

beforeAll(async () => {
  const schema = `test_workers_${randomBytes(4).toString("hex")}`;
  closeAfterFile(() => dropSchema(DATABASE_URL, schema));
  const redis = await sharedRedis();
  server = await startServerProcess({
    WEB_CONCURRENCY: "2",
    // These tests count which worker answered each of a few sequential connections; the kernel's scheduling
    // (the default) promises no spread over so few, so they use Node's round-robin. tests/system/cluster-crash.test.ts
    // runs the default.
    WEB_SCHEDULING: "round-robin",
    NODE_ENV: "test",
    REDIS_URL: redis.url,
    KEY_PREFIX,
    DATABASE_URL,
    DATABASE_SCHEMA: schema,
    SESSION_SECRET: TEST_SECRET,
    METRICS_PUBLIC: "true",
    SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
    SHUTDOWN_TIMEOUT_MS: "5000",
  });
  closeAfterFile(async () => {
    if (server.child.exitCode === null) server.child.kill("SIGKILL"); // its workers follow their primary
    await server.exited;
  });
  await waitUntil(() => listeningPids().length === 2, 30_000);
});

describe("WEB_CONCURRENCY=2", () => {
  it("both workers serve, and /metrics counts the requests of both", async () => {
    const N = 20;
    for (let i = 0; i < N; i++) expect(await fresh("/auth/me")).toBe(401);
    await waitUntil(() => servedBy("/auth/me").length === N);
    expect(new Set(servedBy("/auth/me"))).toEqual(new Set(listeningPids()));

    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const count =
      /http_request_duration_seconds_count\{method="GET",route="\/auth\/me",status="401"\} (\d+)/.exec(text);
    expect(Number(count?.[1])).toBe(N);
  });

  it("/metrics reports the queue's depths once for the instance, not once per worker", async () => {
    const redis = await sharedRedis();
    const queue = await bullQueue<MailJob>(loopbackRedis(redis.port, { db: redis.db }), {
      keyPrefix: KEY_PREFIX,
    });
    closeAfterFile(() => queue.close());
    for (let i = 0; i < 3; i++) {
      await queue.add({ kind: "registration-attempt", email: `q${i}@example.com` }, { delayMs: 600_000 });
    }
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(/queue_jobs\{queue="mail",state="delayed"\} (\d+)/.exec(text)?.[1]).toBe("3");
  });

  it("a killed worker is replaced, and the instance keeps serving", async () => {
    const before = listeningPids();
    const victim = before[0] as number;
    process.kill(victim, "SIGKILL");
    await waitUntil(() => listeningPids().length === 3, 30_000);
    const replacement = listeningPids().find((pid) => !before.includes(pid));
    expect(replacement).toBeDefined();
    const served = servedBy("/auth/me").length;
    for (let i = 0; i < 10; i++) expect(await fresh("/auth/me")).toBe(401);
    await waitUntil(() => servedBy("/auth/me").length === served + 10);
    expect(servedBy("/auth/me").slice(served)).toContain(replacement);
    expect(server.output()).toContain('"msg":"worker died; restarting it"');
    expect(server.child.exitCode).toBeNull();
  });

  it("SIGTERM: readiness fails on every worker first, each drains, and the primary exits 0", async () => {
    expect(await fresh("/health/ready")).toBe(200);
    server.child.kill("SIGTERM");
    await waitUntil(
      () =>
        logLines(server.output()).filter((l) => l.msg === "shutting down: readiness now fails" && l.pid)
          .length === 2,
      5000,
    );
    // Within the delay every worker still answers, and says it is not ready.
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push(await fresh("/health/ready"));
    expect(statuses).toEqual([503, 503, 503, 503, 503, 503]);
    expect(await server.exited).toBe(0);
    const stopped = logLines(server.output()).filter((l) => l.msg === "stopped");
    expect(stopped).toHaveLength(2);
    expect(server.output()).toContain('"msg":"all workers stopped"');
  });
});
