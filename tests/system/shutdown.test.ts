import { mkdtempSync, rmSync } from "node:fs";
import { get as httpGet } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_SECRET, uniquePrefix } from "../helpers/app.js";
import { type FakeOpenAI, startFakeOpenAI } from "../helpers/fake-openai.js";
import { type SharedRedis, sharedRedis, testDatabase } from "../helpers/fixtures.js";
import { startServerProcess } from "../helpers/processes.js";
import { sleep } from "../helpers/sleep.js";

const OPENAI_KEY = "sk-test-shutdown-0123456789";
const DELAY_MS = 1500; // SHUTDOWN_DELAY_MS
const PROBE_TIMEOUT_MS = 2500; // HEALTH_CHECK_TIMEOUT_MS: how long the in-flight request lasts

let redisServer: SharedRedis;
let openai: FakeOpenAI;
let dataDir: string | undefined;

beforeAll(async () => {
  [redisServer, openai] = await Promise.all([sharedRedis(), startFakeOpenAI({ apiKey: OPENAI_KEY })]);
});

afterAll(async () => {
  await openai?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** The run's PostgreSQL schema, or a data directory for the server's own embedded database. */
async function databaseEnv(): Promise<Record<string, string>> {
  if (process.env.TEST_DATABASE_URL) return (await testDatabase()).env;
  dataDir = mkdtempSync(join(tmpdir(), "shutdown-"));
  return { DATA_DIR: dataDir };
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
  connection?: string;
}

/** One request on a connection of its own, so no reused keep-alive socket races the server's close. */
function get(base: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpGet(`${base}${path}`, { agent: false, timeout: 10_000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        text += chunk;
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), connection: res.headers.connection }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
  });
}

async function waitUntilReady(base: string) {
  const deadline = Date.now() + 30_000;
  while ((await get(base, "/health/ready")).status !== 200) {
    if (Date.now() > deadline) throw new Error("the server never became ready");
    await sleep(100);
  }
}

describe("SIGTERM on a real server process", () => {
  it("fails readiness at once, keeps serving through the delay, finishes in-flight work and exits 0", async () => {
    const proc = await startServerProcess({
      NODE_ENV: "test",
      SESSION_SECRET: TEST_SECRET,
      KEY_PREFIX: uniquePrefix(),
      REDIS_URL: redisServer.url,
      OPENAI_API_KEY: OPENAI_KEY,
      OPENAI_BASE_URL: openai.baseUrl,
      HEALTH_CHECK_TIMEOUT_MS: String(PROBE_TIMEOUT_MS),
      SHUTDOWN_DELAY_MS: String(DELAY_MS),
      SHUTDOWN_TIMEOUT_MS: "8000",
      ...(await databaseEnv()),
    });
    const { child, url: base } = proc;
    const output = proc.output;
    try {
      await waitUntilReady(base);

      // An in-flight request: OpenAI never answers, so /health/complete takes the whole probe bound.
      openai.setMode("hang");
      const inflight = get(base, "/health/complete");
      inflight.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
      await sleep(200);
      child.kill("SIGTERM");

      const sentAt = Date.now();
      let ready = await get(base, "/health/ready");
      while (ready.status !== 503 && Date.now() - sentAt < DELAY_MS / 2) {
        await sleep(25);
        ready = await get(base, "/health/ready");
      }
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: "not_ready", reason: "shutting_down" });
      // Well inside the delay, new requests are still served (each connection then closes).
      const live = await get(base, "/health/live");
      expect(live.status).toBe(200);
      expect(live.connection).toBe("close");

      const done = await inflight;
      expect(done.status).toBe(200);
      expect(done.body.status).toBe("degraded");

      expect(await proc.exited).toBe(0);
      expect(output()).toContain("shutting down: readiness now fails");
      expect(output()).toContain('"msg":"stopped"');
      await expect(get(base, "/health/live")).rejects.toThrow();
    } catch (err) {
      console.log(output());
      throw err;
    } finally {
      openai.setMode("ok");
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 90_000);
});
