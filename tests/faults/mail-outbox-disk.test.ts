import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkQueue } from "../../server/domain/health/checks.js";
import { createMailDelivery } from "../../server/domain/mail/deliver.js";
import type { JobQueue } from "../../server/infra/jobs/queue.js";
import { createOutboxMailer } from "../../server/infra/mail/mailer.js";
import type { MailComposer, MailJob } from "../../server/infra/mail/types.js";
import { closeAfterFile, sharedRedis, waitUntil } from "../helpers/fixtures.js";
import { silentLogger } from "../helpers/logger.js";
import { bullQueue, loopbackRedis } from "../helpers/queues.js";
import { uniqueEmail } from "../helpers/session.js";

// The outbox on a real tmpfs of 64 KiB, filled, then remounted read-only. Mounting needs root (a
// container may refuse it even so): then the file is skipped, and says why.
const mountPoint = mkdtempSync(join(tmpdir(), "outbox-disk-"));
const mountError = (() => {
  if (process.getuid?.() !== 0) return "not root";
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mountPoint], {
      stdio: "pipe",
    });
    return undefined;
  } catch (err) {
    return `mount -t tmpfs failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
})();
if (mountError) console.log(`skipped: the outbox disk tests need a tmpfs mount (${mountError})`);

const fixedComposer: MailComposer = async (job) =>
  job.kind === "registration-attempt"
    ? { to: job.email, subject: "Someone tried to register", text: "Was it you?", html: "<p>Was it you?</p>" }
    : undefined;

const outbox = join(mountPoint, "outbox");
const filler = join(mountPoint, "filler");
const files = () => readdirSync(outbox, { withFileTypes: false }).map(String);
const mailsTo = (email: string) =>
  files().filter((f) => f.endsWith(".eml") && readFileSync(join(outbox, f), "utf8").includes(email));

let queue: JobQueue<MailJob>;

beforeAll(async () => {
  if (mountError) return;
  const logger = silentLogger();
  const { port, db } = await sharedRedis();
  queue = await bullQueue<MailJob>(loopbackRedis(port, { db }), { logger });
  closeAfterFile(() => queue.close());
  const mailer = createOutboxMailer({
    dir: outbox,
    from: "Sign-in <no-reply@test>",
    logLinks: false,
    publicUrl: "http://localhost",
    logger,
  });
  const worker = queue.process(
    createMailDelivery({ compose: fixedComposer, mailer, logger, retryHours: 24 }),
  );
  closeAfterFile(() => worker.close(2000));
});

afterAll(() => {
  if (!mountError) execFileSync("umount", ["-l", mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

/** Queues one mail while the disk refuses it; health names `code`; no file is left; then `heal` lets it through. */
async function refusedThenDelivered(code: string, heal: () => void) {
  const email = uniqueEmail("outbox");
  await queue.add({ kind: "registration-attempt", email });
  await waitUntil(async () => (await queue.inspect()).retryingLater === 1, 15_000);
  const health = await checkQueue(queue);
  expect(health).toMatchObject({ status: "unhealthy", reason: "retrying" });
  expect(health.error).toContain(`outbox ${code}`);
  expect(await queue.depths()).toMatchObject({ failed: 0 });
  // Not even a partial file: a reader of the folder sees nothing until the whole message is there.
  expect(files()).toEqual([]);

  heal();
  await waitUntil(() => mailsTo(email).length === 1, 20_000);
  await waitUntil(async () => (await queue.inspect()).retryingLater === 0);
  expect(await checkQueue(queue)).toMatchObject({ status: "healthy" });
  expect(readFileSync(join(outbox, mailsTo(email)[0] as string), "utf8")).toContain(
    "Someone tried to register",
  );
  expect(files().every((f) => f.endsWith(".eml"))).toBe(true);
  // Exactly one copy, even a moment later.
  await new Promise((r) => setTimeout(r, 500));
  expect(mailsTo(email)).toHaveLength(1);
}

describe.skipIf(mountError !== undefined)("outbox on a real tmpfs", () => {
  it("a full disk: the mail is retried, not lost, and delivered once when space returns", async () => {
    // The folder exists; then every free block goes to one file.
    execFileSync("mkdir", ["-p", outbox]);
    try {
      writeFileSync(filler, Buffer.alloc(128 * 1024));
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe("ENOSPC");
    }
    await refusedThenDelivered("ENOSPC", () => rmSync(filler));
  }, 60_000);

  it("a read-only disk: the mail is retried, not lost, and delivered once when it is writable again", async () => {
    rmSync(outbox, { recursive: true, force: true });
    execFileSync("mkdir", ["-p", outbox]);
    // As root, file modes would not stop the write: the file system itself refuses it.
    execFileSync("mount", ["-o", "remount,ro", mountPoint]);
    await refusedThenDelivered("EROFS", () => execFileSync("mount", ["-o", "remount,rw", mountPoint]));
  }, 60_000);
});
