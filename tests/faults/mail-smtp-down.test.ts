import { describe, expect, it } from "vitest";
import { checkQueue } from "../../server/domain/health/checks.js";
import { createMailDelivery } from "../../server/domain/mail/deliver.js";
import { createSmtpMailer } from "../../server/infra/mail/mailer.js";
import type { MailComposer, MailJob } from "../../server/infra/mail/types.js";
import { closeAfterFile, sharedRedis, waitUntil } from "../helpers/fixtures.js";
import { silentLogger } from "../helpers/logger.js";
import { bullQueue, loopbackRedis } from "../helpers/queues.js";
import { uniqueEmail } from "../helpers/session.js";
import { sleep } from "../helpers/sleep.js";
import { startSmtpServer } from "../helpers/smtp.js";

/** Renders every job as one fixed message to the job's address (the product's composer needs the flows). */
const fixedComposer: MailComposer = async (job) =>
  job.kind === "registration-attempt"
    ? { to: job.email, subject: "Someone tried to register", text: "Was it you?", html: "<p>Was it you?</p>" }
    : undefined;

describe.skipIf(process.env.SKIP_SLOW === "1")("SMTP down when a mail is queued", () => {
  it("delivers the mail once SMTP is back: the same message, once", async () => {
    const smtp = await startSmtpServer();
    await smtp.stop();
    const logger = silentLogger();
    const { port, db } = await sharedRedis();
    const queue = await bullQueue<MailJob>(loopbackRedis(port, { db }), { logger });
    closeAfterFile(() => queue.close());
    const mailer = createSmtpMailer(
      { url: smtp.url, rejectUnauthorized: true, from: "Sign-in <no-reply@test>" },
      logger,
    );
    closeAfterFile(() => mailer.close());
    const worker = queue.process(
      createMailDelivery({ compose: fixedComposer, mailer, logger, retryHours: 24 }),
    );
    closeAfterFile(() => worker.close(2000));

    const email = uniqueEmail();
    await queue.add({ kind: "registration-attempt", email });

    // The send failed and the job waits to be retried; it is neither lost nor failed, and health says so.
    await waitUntil(async () => (await queue.inspect()).retryingLater === 1, 15_000);
    expect(await queue.depths()).toMatchObject({ delayed: 1, failed: 0, completed: 0 });
    expect(await checkQueue(queue)).toMatchObject({ status: "unhealthy", reason: "retrying" });
    expect(smtp.messages).toHaveLength(0);

    await smtp.start();
    const mail = await smtp.waitFor(email, { timeoutMs: 20_000 });
    expect(mail.subject).toBe("Someone tried to register");
    expect(mail.text.trim()).toBe("Was it you?");
    await waitUntil(async () => (await queue.depths()).completed === 1);
    expect(await queue.depths()).toMatchObject({
      waiting: 0,
      active: 0,
      delayed: 0,
      failed: 0,
      completed: 1,
    });
    expect(await checkQueue(queue)).toMatchObject({ status: "healthy" });
    // Exactly one copy, even a moment later.
    await sleep(500);
    expect(smtp.to(email)).toHaveLength(1);
  });
});
