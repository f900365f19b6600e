import { type JobHandler, RetryLaterError } from "../../infra/jobs/queue.js";
import type { Logger } from "../../infra/logging/logger.js";
import { TransientMailError } from "../../infra/mail/mailer.js";
import type { MailComposer, Mailer, MailJob } from "../../infra/mail/types.js";

const MIN_RETRY_MS = 2000;
const MAX_RETRY_MS = 5 * 60_000;

/**
 * The `mail` queue's job: compose, then send. A transport failure (SMTP down, a 4xx, the outbox's disk full
 * or read-only) is retried later
 * without using an attempt, waiting about as long as the job is old (2 s up to 5 min), until the job is
 * `retryHours` old; then it is dropped with an error line. Any other failure uses one of the job's attempts.
 */
export function createMailDelivery(deps: {
  compose: MailComposer;
  mailer: Mailer;
  logger: Logger;
  retryHours: number;
}): JobHandler<MailJob> {
  const { compose, mailer, logger } = deps;
  const log = logger.child({ component: "mail" });
  return async (job, ctx) => {
    const mail = await compose(job);
    if (!mail) {
      log.info({ kind: job.kind, jobId: ctx.id }, "nothing to send");
      return;
    }
    try {
      await mailer.send(mail);
    } catch (err) {
      if (!(err instanceof TransientMailError)) throw err;
      const age = Date.now() - ctx.createdAt;
      if (age > deps.retryHours * 3_600_000) {
        log.error(
          { kind: job.kind, jobId: ctx.id, ageMs: age },
          `mail dropped after ${deps.retryHours} h of ${err.message}`,
        );
        return;
      }
      const delay = Math.min(Math.max(age, MIN_RETRY_MS), MAX_RETRY_MS);
      log.warn({ kind: job.kind, jobId: ctx.id, retryInMs: delay }, `mail not sent: ${err.message}`);
      throw new RetryLaterError(err.message, delay, err.reason);
    }
    log.info({ kind: job.kind, jobId: ctx.id, transport: mailer.kind }, "mail sent");
  };
}
