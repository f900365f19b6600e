import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { closeAfterFile } from "./fixtures.js";
import { freePort } from "./ports.js";

export interface ReceivedMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  /** Every http(s) link in the text part. */
  links: string[];
  receivedAt: number;
}

export interface TestSmtpServer {
  port: number;
  /** `smtp://127.0.0.1:<port>` (loopback: no STARTTLS required, no credentials). */
  url: string;
  /** Every message accepted so far, oldest first. */
  messages: ReceivedMail[];
  /** Messages to `address` (case-insensitive), oldest first. */
  to(address: string): ReceivedMail[];
  /** Resolves with the first message to `address` at or after index `from` of its list; rejects after `timeoutMs`. */
  waitFor(address: string, options?: { from?: number; timeoutMs?: number }): Promise<ReceivedMail>;
  /** Closes the port (connections are refused) until `start()`. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** While set, every RCPT is answered with this code (e.g. 451: try later, 550: refused). */
  rejectWith(code: number | undefined): void;
  /**
   * While on, a message's data is read but not answered, as a slow server would: the sender waits
   * mid-send. `hold(false)` answers (and stores) the held messages whose connection is still open;
   * a message whose sender went away first is never stored.
   */
  hold(on: boolean): void;
  /** Messages read and not yet answered. */
  held(): number;
}

/**
 * A real SMTP server on loopback (the `smtp-server` package), storing what it accepts; closed after the
 * test file. Mails are parsed with mailparser, so tests read what a mail client would show.
 */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const port = await freePort();
  const messages: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  let rejectCode: number | undefined;
  let holding = false;
  const pending = new Map<string, () => void>(); // session id → answers the held message

  const make = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      // No reverse DNS of the client (about 100 ms per connection here, with no resolver to ask).
      disableReverseLookup: true,
      logger: false,
      onRcptTo(_address, _session, callback) {
        if (rejectCode) {
          const err = new Error(rejectCode >= 500 ? "mailbox unavailable" : "try again later") as Error & {
            responseCode: number;
          };
          err.responseCode = rejectCode;
          return callback(err);
        }
        callback();
      },
      onClose(session) {
        pending.delete(session.id);
      },
      onData(stream, session, callback) {
        simpleParser(stream).then(
          (parsed: ParsedMail) => {
            const accept = () => store(parsed, session, callback);
            if (holding) pending.set(session.id, accept);
            else accept();
          },
          (err: Error) => callback(err),
        );
      },
    });

  const store = (
    parsed: ParsedMail,
    session: { envelope: { rcptTo: Array<{ address: string }>; mailFrom: false | { address: string } } },
    callback: (err?: Error | null) => void,
  ) => {
    const text = parsed.text ?? "";
    messages.push({
      to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
      from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
      subject: parsed.subject ?? "",
      text,
      html: typeof parsed.html === "string" ? parsed.html : "",
      links: text.match(/https?:\/\/[^\s<>"]+/g) ?? [],
      receivedAt: Date.now(),
    });
    for (const wake of waiters) wake();
    callback();
  };

  let server = make();
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  let listening = false;
  const stop = async () => {
    if (!listening) return;
    listening = false;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  await listen();
  listening = true;
  closeAfterFile(stop);

  const to = (address: string) => messages.filter((m) => m.to.includes(address.toLowerCase()));
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    to,
    waitFor(address, { from = 0, timeoutMs = 15_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = to(address)[from];
          if (!found) return false;
          cleanup();
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no mail to ${address} (#${from}) within ${timeoutMs} ms`));
        }, timeoutMs);
        const wake = () => void check();
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(wake);
        };
        waiters.add(wake);
        check();
      });
    },
    stop,
    async start() {
      if (listening) return;
      server = make();
      await listen();
      listening = true;
    },
    rejectWith(code) {
      rejectCode = code;
    },
    hold(on) {
      holding = on;
      if (on) return;
      const answers = [...pending.values()];
      pending.clear();
      for (const answer of answers) answer();
    },
    held: () => pending.size,
  };
}
