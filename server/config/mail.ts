import { z } from "zod";
import type { RedisConfig } from "./redis.js";
import { bool, int, nonEmpty, type Report, redactUrl, secret, type Values } from "./variables.js";

export const MAIL_VARIABLES = {
  SMTP_URL: secret(nonEmpty.optional()), // smtp://user:pass@host:587 (STARTTLS) or smtps://...:465; unset: mails go to the outbox folder
  SMTP_TLS_REJECT_UNAUTHORIZED: bool.default(true), // only false skips verifying the SMTP server's certificate
  MAIL_FROM: nonEmpty.optional(), // sender, e.g. "Example <no-reply@example.com>"; required with SMTP_URL in production
  MAIL_OUTBOX_DIR: nonEmpty.optional(), // where mails are written without SMTP_URL; default DATA_DIR/outbox
  PUBLIC_URL: nonEmpty.optional(), // the origin links in mails point to; default APP_ORIGIN's first, Railway's public domain, else http://localhost:PORT
  PASSWORD_RESET_TTL_SECONDS: int(60, 86_400).default(1800), // how long a password-reset link works
  EMAIL_VERIFICATION: z.enum(["off", "optional", "required"]).optional(), // unset: optional with SMTP_URL, else off
  EMAIL_VERIFICATION_TTL_SECONDS: int(60, 30 * 86_400).default(86_400), // how long a verification link works
  NOTIFY_NEW_SIGN_IN: bool.default(false), // mail the owner when their account signs in from a device it has not used before
  QUEUE_REDIS_URL: secret(nonEmpty.optional()), // the job queue's own Redis; unset: REDIS_URL's (noeviction) Redis
  WORKER_MODE: z.enum(["inline", "off"]).default("inline"), // inline: this process runs the jobs; off: only `node dist/server/worker.js` does
  QUEUE_STALLED_MS: int(1000, 600_000).default(30_000), // a job whose worker stopped answering for this long is run again
  MAIL_RETRY_HOURS: int(1, 168).default(24), // a mail SMTP keeps refusing for this long is dropped (logged)
};

type MailValues = Values<typeof MAIL_VARIABLES>;

export type EmailVerificationMode = "off" | "optional" | "required";

/** Mail delivery, the job queue that carries it, and the account-recovery flows built on them. */
export function mailConfig(
  v: MailValues,
  deps: {
    isProduction: boolean;
    port: number;
    appOrigins: string[];
    /** RAILWAY_PUBLIC_DOMAIN, read from the platform's environment. */
    railwayPublicDomain?: string;
    /** DATA_DIR: the outbox folder lives under it by default. */
    dataDir: string;
    hasRedis: boolean;
    /** The queue's Redis: QUEUE_REDIS_URL parsed like REDIS_URL, else the sessions' Redis (config/redis.ts). */
    queueRedis: RedisConfig | undefined;
  },
  report: Report,
) {
  const smtpUrl = parseSmtpUrl(v.SMTP_URL, report);
  const publicUrl = parsePublicUrl(v, deps, smtpUrl !== undefined, report);
  if (smtpUrl && !v.MAIL_FROM && deps.isProduction) {
    report.problems.push("MAIL_FROM: required with SMTP_URL in production (the sender of every mail)");
  }
  if (smtpUrl && !v.SMTP_TLS_REJECT_UNAUTHORIZED) {
    report.warnings.push(
      "SMTP_TLS_REJECT_UNAUTHORIZED=false: the SMTP server's certificate is not verified; anyone on the path can read reset links",
    );
  }
  if (!smtpUrl && deps.isProduction) {
    report.warnings.push(
      "SMTP_URL is unset: password-reset and verification mails are written to the outbox folder, not sent to anyone",
    );
  }
  if (v.QUEUE_REDIS_URL && !deps.hasRedis) {
    report.problems.push(
      "QUEUE_REDIS_URL: needs REDIS_URL too (sessions live in that Redis, the queue in this one)",
    );
  }
  if (v.WORKER_MODE === "off" && !deps.hasRedis) {
    report.problems.push(
      "WORKER_MODE: off needs Redis (without it the queue lives in this process, and only this process can run its jobs)",
    );
  }
  // Without SMTP nobody can receive a verification mail, so requiring one would lock every new user out.
  const emailVerification: EmailVerificationMode = v.EMAIL_VERIFICATION ?? (smtpUrl ? "optional" : "off");
  if (emailVerification === "required" && !smtpUrl && deps.isProduction) {
    report.problems.push("EMAIL_VERIFICATION: required needs SMTP_URL in production (nobody could verify)");
  }
  return {
    mail: {
      /** Absent: mails go to `outboxDir` (and, in development, their links to the log). */
      smtp: smtpUrl ? { url: smtpUrl, rejectUnauthorized: v.SMTP_TLS_REJECT_UNAUTHORIZED } : undefined,
      from: v.MAIL_FROM ?? "Sign-in <no-reply@localhost>",
      outboxDir: v.MAIL_OUTBOX_DIR ?? `${deps.dataDir}/outbox`,
      /** Origin of every link in a mail (never taken from a request's Host header). */
      publicUrl,
      passwordResetTtlSeconds: v.PASSWORD_RESET_TTL_SECONDS,
      emailVerification,
      emailVerificationTtlSeconds: v.EMAIL_VERIFICATION_TTL_SECONDS,
      notifyNewSignIn: v.NOTIFY_NEW_SIGN_IN,
      retryHours: v.MAIL_RETRY_HOURS,
    },
    queue: {
      /** The queue's own Redis URL (QUEUE_REDIS_URL); absent: the main Redis' settings. */
      redisUrl: v.QUEUE_REDIS_URL,
      /** Where the jobs live (BullMQ); absent: in this process' memory. */
      redis: deps.queueRedis,
      workerMode: v.WORKER_MODE,
      stalledMs: v.QUEUE_STALLED_MS,
    },
  };
}

export type MailConfig = ReturnType<typeof mailConfig>;

function parseSmtpUrl(value: string | undefined, report: Report): string | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol !== "smtp:" && url.protocol !== "smtps:") {
      report.problems.push(`SMTP_URL: must start with smtp:// or smtps:// (got "${redactUrl(value)}")`);
      return undefined;
    }
    if (!url.hostname) {
      report.problems.push(`SMTP_URL: has no host (got "${redactUrl(value)}")`);
      return undefined;
    }
    return value;
  } catch {
    report.problems.push("SMTP_URL: is not a URL");
    return undefined;
  }
}

function parsePublicUrl(
  v: MailValues,
  deps: { isProduction: boolean; port: number; appOrigins: string[]; railwayPublicDomain?: string },
  sendsMail: boolean,
  report: Report,
): string {
  if (v.PUBLIC_URL) {
    try {
      const url = new URL(v.PUBLIC_URL);
      if ((url.protocol === "http:" || url.protocol === "https:") && url.pathname === "/" && !url.search) {
        if (deps.isProduction && url.protocol === "http:" && url.hostname !== "localhost") {
          report.warnings.push("PUBLIC_URL: http:// in production; links in mails should use https://");
        }
        return url.origin;
      }
    } catch {
      // reported below
    }
    report.problems.push(
      `PUBLIC_URL: must be an origin like https://auth.example.com (got "${v.PUBLIC_URL.slice(0, 80)}")`,
    );
    return `http://localhost:${deps.port}`;
  }
  const fromOrigin = deps.appOrigins[0];
  if (fromOrigin) return fromOrigin;
  if (deps.railwayPublicDomain) return `https://${deps.railwayPublicDomain}`;
  if (deps.isProduction && sendsMail) {
    report.problems.push(
      "PUBLIC_URL: required in production with SMTP_URL (the origin of the links in mails; never taken from the request)",
    );
  }
  return `http://localhost:${deps.port}`;
}
