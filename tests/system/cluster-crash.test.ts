import { randomBytes } from "node:crypto";
import { get as httpGet } from "node:http";
import { beforeAll, describe, expect, it } from "vitest";
import { TEST_SECRET, uniquePrefix } from "../helpers/app.js";
import { closeAfterFile, sharedRedis, waitUntil } from "../helpers/fixtures.js";
import { dropSchema } from "../helpers/global-setup.js";
import {
  listeningWorkers,
  requestPids,
  type ServerProcess,
  startServerProcess,
} from "../helpers/processes.js";

// WEB_CONCURRENCY=2 with workers SIGKILLed: what a client sees, and what /metrics says afterwards.
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REQUEST_TIMEOUT_MS = 8000; // HTTP_REQUEST_TIMEOUT_MS
const CLIENT_GIVES_UP_MS = 20_000;

let server: ServerProcess;

type Outcome = { status: number; ms: number } | { error: string; ms: number };

/** GET on a new connection: each one is a hand-off from the listening socket to a worker. */
function fresh(path: string): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const req = httpGet(`${server.url}${path}`, { agent: false, timeout: CLIENT_GIVES_UP_MS }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started }));
      res.on("error", (err) => resolve({ error: err.message, ms: Date.now() - started }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve({ error: err.message, ms: Date.now() - started }));
  });
}

const listeningPids = () => listeningWorkers(server.output());
const servedBy = (path: string) => requestPids(server.output(), path);

/** Every counter and histogram sample of /metrics, by its line's name and labels. */
async function monotonicSamples(): Promise<Map<string, number>> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const kinds = new Map<string, string>();
  for (const [, name, kind] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm))
    kinds.set(name as string, kind as string);
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match) continue;
    const base = (match[1] as string).replace(/_(bucket|sum|count|total)$/, "");
    const kind = kinds.get(match[1] as string) ?? kinds.get(base);
    if (kind === "counter" || kind === "histogram")
      samples.set(`${match[1]}${match[2] ?? ""}`, Number(match[3]));
  }
  return samples;
}

beforeAll(async () => {
  const schema = `test_crash_${randomBytes(4).toString("hex")}`;
  closeAfterFile(() => dropSchema(DATABASE_URL, schema));
  const redis = await sharedRedis();
  server = await startServerProcess({
    WEB_CONCURRENCY: "2",
    NODE_ENV: "test",
    REDIS_URL: redis.url,
    KEY_PREFIX: uniquePrefix(),
    DATABASE_URL,
    DATABASE_SCHEMA: schema,
    SESSION_SECRET: TEST_SECRET,
    METRICS_PUBLIC: "true",
    HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    HTTP_HEADERS_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    RATE_LIMIT_GLOBAL_LIMIT: "1000000",
    RATE_LIMIT_API_LIMIT: "1000000",
  });
  closeAfterFile(async () => {
    if (server.child.exitCode === null) server.child.kill("SIGKILL"); // its workers follow their primary
    await server.exited;
  });
  await waitUntil(() => listeningPids().length === 2, 30_000);
});

describe("WEB_CONCURRENCY=2, a worker SIGKILLed", () => {
  it("/metrics counters never go down when a worker dies", async () => {
    // Concurrent connections, so that both workers serve some.
    for (let round = 0; round < 5 && new Set(servedBy("/auth/me")).size < 2; round++) {
      await Promise.all(Array.from({ length: 20 }, () => fresh("/auth/me")));
    }
    const served = servedBy("/auth/me");
    const victim = served.find((pid) => listeningPids().includes(pid)) as number;
    await waitUntil(() => servedBy("/auth/me").length >= served.length);
    const before = await monotonicSamples();
    expect(before.size).toBeGreaterThan(0);

    const workers = listeningPids().length;
    process.kill(victim, "SIGKILL");
    await waitUntil(() => listeningPids().length === workers + 1, 30_000);
    const after = await monotonicSamples();
    const lower = [...before].filter(([key, value]) => (after.get(key) ?? 0) < value);
    expect(lower).toEqual([]);
  }, 90_000);

  it("no connection waits on a dead worker: every request ends within the request timeout", async () => {
    const outcomes: Outcome[] = [];
    let running = true;
    const client = async () => {
      while (running) outcomes.push(await fresh("/auth/me"));
    };
    const clients = Array.from({ length: 10 }, client);
    for (let kill = 0; kill < 3; kill++) {
      await new Promise((r) => setTimeout(r, 500));
      const pids = listeningPids();
      const alive = pids.filter((pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      });
      const count = pids.length;
      process.kill(alive[alive.length - 1] as number, "SIGKILL");
      await waitUntil(() => listeningPids().length === count + 1, 30_000);
    }
    running = false;
    await Promise.all(clients);
    const slow = outcomes.filter((o) => o.ms > REQUEST_TIMEOUT_MS);
    expect(slow).toEqual([]);
    // A request the killed worker was serving is reset (it was in that process); none is left waiting.
    expect(outcomes.filter((o) => "status" in o && o.status === 401).length).toBeGreaterThan(0);
  }, 120_000);
});
