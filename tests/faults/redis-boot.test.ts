import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_SECRET, uniquePrefix } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { type ServerProcess, startServerProcess } from "../helpers/processes.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";

// A Redis that cannot be reached at boot: the process still starts (readiness says why), and the log
// names the cause an operator must fix, not just "Connection is closed.".

let database: TestDatabase;
let secured: RedisServer;
const running: ServerProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  secured = await startRedisServer({ extraArgs: ["--requirepass", "the-right-password"] });
});

afterAll(async () => {
  for (const p of running) await p.stop("SIGKILL");
  await secured?.stop();
  await database?.close();
});

async function bootWith(redisUrl: string): Promise<{ code?: string; reason?: string; lines: string[] }> {
  const proc = await startServerProcess({
    NODE_ENV: "test",
    REDIS_URL: redisUrl,
    SESSION_SECRET: TEST_SECRET,
    KEY_PREFIX: uniquePrefix(),
    PASSWORD_SCRYPT_LOG_N: "10",
    ...database.env,
  });
  running.push(proc);
  expect((await fetch(`${proc.url}/health/live`)).status).toBe(200);
  const lines = proc.output().split("\n").filter(Boolean);
  for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  const boot = lines
    .map((l) => JSON.parse(l) as { msg: string; err?: { code?: string; reason?: string } })
    .find((l) => l.msg.startsWith("redis not reachable at boot"));
  await proc.stop("SIGKILL");
  return { code: boot?.err?.code, reason: boot?.err?.reason, lines };
}

describe("Redis failing at boot", () => {
  it("names a host that does not resolve", async () => {
    const boot = await bootWith("redis://nonexistent.invalid:6379");
    expect(boot.code).toMatch(/^(ENOTFOUND|EAI_AGAIN)$/);
    expect(boot.reason).toBe("host not found");
  });

  it("names a wrong password (WRONGPASS) and a missing one (NOAUTH)", async () => {
    const wrong = await bootWith(`redis://default:not-the-password@127.0.0.1:${secured.port}`);
    expect(wrong).toMatchObject({ code: "WRONGPASS", reason: "authentication failed" });
    expect(wrong.lines.join("\n")).not.toContain("not-the-password");
    const missing = await bootWith(secured.url);
    expect(missing).toMatchObject({ code: "NOAUTH", reason: "authentication failed" });
  });
});
