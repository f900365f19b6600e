import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Transporter } from "nodemailer";
import type SMTPTransport from "nodemailer/lib/smtp-transport/index.js";
import type StreamTransport from "nodemailer/lib/stream-transport/index.js";
import type { Config } from "../../config/config.js";
import type { Logger } from "../logging/logger.js";
import type { Mail, Mailer } from "./types.js";

/** The transport could not take the message now (down, timed out, a 4xx reply, a full disk): try again later. */
export class TransientMailError extends Error {
  /** Why, short and without addresses or paths: what health shows. */
  readonly reason: string;
  constructor(
    message: string,
    readonly code?: string,
    reason?: string,
  ) {
    super(message);
    this.name = "TransientMailError";
    this.reason = reason ?? `SMTP ${code ?? "error"}`;
  }
}

const SMTP_TIMEOUT_MS = 10_000;
// nodemailer's codes for failures of the connection rather than of the message.
const TRANSIENT_CODES = new Set([
  "ECONNECTION",
  "ETIMEDOUT",
  "ESOCKET",
  "EDNS",
  "ECONNREFUSED",
  "EAUTH",
  "ETLS",
  "EPROXY",
]);

// Failures of the outbox's disk rather than of the message: retried like an SMTP outage.
const OUTBOX_TRANSIENT: Record<string, string> = {
  ENOSPC: "the outbox's disk is full",
  EDQUOT: "the outbox's disk quota is used up",
  EROFS: "the outbox's file system is read-only",
  EACCES: "the outbox folder is not writable",
  EPERM: "the outbox folder is not writable",
  EMFILE: "too many open files",
  ENFILE: "too many open files",
  EIO: "the outbox's disk failed to write",
};

/**
 * A transport made on the first message, not at start-up: nodemailer is loaded only by a process that sends
 * mail (the web processes of a deployment with a mail worker never do).
 */
function lazyTransport<T>(make: (nodemailer: typeof import("nodemailer").default) => Transporter<T>) {
  let transport: Promise<Transporter<T>> | undefined;
  return {
    get: () => {
      transport ??= import("nodemailer").then((m) => make(m.default));
      return transport;
    },
    close: async () => {
      if (transport) (await transport).close();
    },
  };
}

/** SMTP when SMTP_URL is set, else the outbox folder. */
export function createMailer(config: Config, logger: Logger): Mailer {
  return config.mail.smtp
    ? createSmtpMailer({ ...config.mail.smtp, from: config.mail.from }, logger)
    : createOutboxMailer({
        dir: config.mail.outboxDir,
        from: config.mail.from,
        logLinks: !config.isProduction,
        publicUrl: config.mail.publicUrl,
        logger,
      });
}

/** nodemailer over SMTP: STARTTLS required on smtp:// unless the host is loopback, certificates verified. */
export function createSmtpMailer(
  options: { url: string; rejectUnauthorized: boolean; from: string },
  logger: Logger,
): Mailer {
  const url = new URL(options.url);
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  const transport = lazyTransport<SMTPTransport.SentMessageInfo>((nodemailer) =>
    nodemailer.createTransport({
      host: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === "smtps:" ? 465 : 587,
      secure: url.protocol === "smtps:",
      // Credentials must not cross the network in clear: STARTTLS is required except on loopback.
      requireTLS: url.protocol === "smtp:" && !loopback,
      auth: url.username
        ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
        : undefined,
      tls: { rejectUnauthorized: options.rejectUnauthorized, servername: url.hostname },
      connectionTimeout: SMTP_TIMEOUT_MS,
      greetingTimeout: SMTP_TIMEOUT_MS,
      socketTimeout: SMTP_TIMEOUT_MS,
      logger: false,
    }),
  );
  return {
    kind: "smtp",
    async send(mail: Mail) {
      try {
        await (await transport.get()).sendMail({ from: options.from, ...mail });
      } catch (err) {
        const e = err as { code?: string; responseCode?: number; message?: string };
        const transient =
          (e.code !== undefined && TRANSIENT_CODES.has(e.code)) ||
          (e.responseCode !== undefined && e.responseCode >= 400 && e.responseCode < 500);
        // The message only: nodemailer's errors may carry the envelope, never the credentials, but keep it short.
        const message = `SMTP: ${e.responseCode ?? e.code ?? "error"} ${String(e.message ?? "").slice(0, 200)}`;
        if (transient) throw new TransientMailError(message, e.code);
        logger.debug({ component: "mail", code: e.code }, "SMTP refused a message");
        throw new Error(message);
      }
    },
    close: () => transport.close(),
  };
}

/**
 * Writes each message as an .eml file, under a temporary name renamed once complete, so a reader never sees
 * half a message; a full, read-only or unwritable disk is a TransientMailError (retried) and leaves no
 * partial file. In development also logs its links so a reset can be walked.
 */
export function createOutboxMailer(options: {
  dir: string;
  from: string;
  logLinks: boolean;
  publicUrl: string;
  logger: Logger;
}): Mailer {
  const transport = lazyTransport<StreamTransport.SentMessageInfo>((nodemailer) =>
    nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" }),
  );
  let made = false;
  return {
    kind: "outbox",
    async send(mail: Mail) {
      const info = await (await transport.get()).sendMail({ from: options.from, ...mail });
      const name = `${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(4).toString("hex")}.eml`;
      const file = join(options.dir, name);
      const partial = join(options.dir, `.${name}.partial`); // no .eml suffix: readers skip it
      try {
        if (!made) {
          await mkdir(options.dir, { recursive: true, mode: 0o700 });
          made = true;
        }
        await writeFile(partial, info.message as Buffer, { mode: 0o600 });
        await rename(partial, file);
      } catch (err) {
        await rm(partial, { force: true }).catch(() => undefined);
        const code = (err as NodeJS.ErrnoException).code ?? "";
        const why = OUTBOX_TRANSIENT[code];
        if (why) throw new TransientMailError(`outbox: ${code}: ${why}`, code, `outbox ${code}: ${why}`);
        throw err;
      }
      const links = options.logLinks ? linksIn(mail.text, options.publicUrl) : undefined;
      options.logger.info(
        { component: "mail", subject: mail.subject, file, ...(links ? { links } : {}) },
        "mail written to the outbox (no SMTP_URL)",
      );
    },
    async close() {},
  };
}

function linksIn(text: string, publicUrl: string): string[] {
  return text.split(/\s+/).filter((word) => word.startsWith(`${publicUrl}/`));
}
