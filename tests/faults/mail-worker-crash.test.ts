import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { MailJob } from "../../server/infra/mail/types.js";
import { uniquePrefix } from "../helpers/app.js";
import { closeAfterFile, sharedRedis, testDatabase, waitUntil } from "../helpers/fixtures.js";
import { startProcess, type TestProcess } from "../helpers/processes.js";
import { bullQueue, loopbackRedis } from "../helpers/queues.js";
import { uniqueEmail } from "../helpers/session.js";
import { startSmtpServer } from "../helpers/smtp.js";

const ENTRY = "tests/helpers/mail-worker-entry.ts";
const STALLED_MS = 1000; // QUEUE_STALLED_MS: how soon a job whose worker died is run again

async function setup() {
  const smtp = await startSmtpServer();
  const { port, db, url } = await sharedRedis();
  const keyPrefix = uniquePrefix();
  const queue = await bullQueue<MailJob>(loopbackRedis(port, { db }), { keyPrefix });
  closeAfterFile(() => queue.close());
  const env = {
    NODE_ENV: "test",
    SESSION_SECRET: "a-test-secret-that-is-long-enough-to-pass-the-check",
    KEY_PREFIX: keyPrefix,
    REDIS_URL: url,
    SMTP_URL: smtp.url,
    QUEUE_STALLED_MS: String(STALLED_MS),
    SHUTDOWN_TIMEOUT_MS: "5000",
    DATA_DIR: mkdtempSync(join(tmpdir(), "worker-")),
    ...(await testDatabase()).env,
  };
  const workers: TestProcess[] = [];
  const start = async (entry = ENTRY, extra: Record<string, string> = {}) => {
    const worker = startProcess(entry, { ...env, ...extra });
    workers.push(worker);
    await worker.waitForLog("mail worker running");
    return worker;
  };
  closeAfterFile(async () => {
    for (const w of workers) await w.stop("SIGKILL");
  });
  return { smtp, queue, env, start };
}

describe.skipIf(process.env.SKIP_SLOW === "1")("mail worker process", () => {
  it("killed while a mail is being sent: the mail is delivered once a worker runs again", async () => {
    const { smtp, queue, start } = await setup();
    smtp.hold(true);
    const first = await start();
    const email = uniqueEmail();
    await queue.add({ kind: "registration-attempt", email });
    // The worker is mid-send: SMTP has the message's data and has not answered.
    await waitUntil(() => smtp.held() === 1, 20_000);
    await first.stop("SIGKILL");
    expect(await queue.depths()).toMatchObject({ active: 1, completed: 0 });
    smtp.hold(false);
    expect(smtp.to(email)).toHaveLength(0);

    await start();
    const mail = await smtp.waitFor(email, { timeoutMs: 30_000 });
    expect(mail.subject).toBe("Someone tried to register");
    await waitUntil(async () => (await queue.depths()).completed === 1, 10_000);
    expect(await queue.depths()).toMatchObject({ waiting: 0, active: 0, failed: 0, completed: 1 });
    expect(smtp.to(email)).toHaveLength(1);
  });

  it("SIGTERM lets the mail being sent finish, takes no new job, and exits 0", async () => {
    const { smtp, queue, start } = await setup();
    smtp.hold(true);
    const worker = await start();
    const email = uniqueEmail();
    await queue.add({ kind: "registration-attempt", email });
    await waitUntil(() => smtp.held() === 1, 20_000);
    await worker.child.kill("SIGTERM");
    await worker.waitForLog("stopping");
    await queue.add({ kind: "registration-attempt", email: uniqueEmail() });
    smtp.hold(false);
    expect(await worker.exited).toBe(0);
    expect(smtp.to(email)).toHaveLength(1);
    expect(await queue.depths()).toMatchObject({ waiting: 1, active: 0, completed: 1 });
  });

  it("the real entry point starts on Redis and exits 0 on SIGTERM", async () => {
    const { start } = await setup();
    const worker = await start("server/worker.ts");
    expect(await worker.stop("SIGTERM")).toBe(0);
    const lines = worker
      .output()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(["mail worker running", "stopped"]));
  });

  it("the real entry point refuses to start without Redis, naming REDIS_URL in one JSON line", async () => {
    const { env } = await setup();
    const { REDIS_URL: _unset, ...withoutRedis } = env;
    const worker = startProcess("server/worker.ts", withoutRedis);
    expect(await worker.exited).toBe(1);
    const fatal = worker
      .output()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { level: number | string; msg: string })
      .find((l) => l.msg.includes("REDIS_URL"));
    expect(fatal?.msg).toMatch(/needs Redis/);
  });
});
