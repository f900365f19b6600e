/**
 * The mails the product sends, as jobs on the `mail` queue. A job names what happened, not the message:
 * the worker looks up what it needs when it runs (the user, a fresh single-use token), so no secret link
 * ever sits in Redis and a request that queues a mail does the same work whether or not the account exists.
 */
export type MailJob =
  /** "Forgot password" for this address; the worker sends nothing when no active account has it. */
  | { kind: "password-reset"; email: string }
  /** A verification link for the user's current address. */
  | { kind: "email-verification"; userId: string }
  /** "Send the link again" from someone not logged in: sent only when an unverified account has the address. */
  | { kind: "email-verification"; email: string }
  /** Someone tried to register with an address that already has an account (EMAIL_VERIFICATION=required). */
  | { kind: "registration-attempt"; email: string }
  /** The account signed in from a device it had not used before (NOTIFY_NEW_SIGN_IN). */
  | { kind: "new-sign-in"; userId: string; device: string; ip: string; at: number }
  /** A second factor was added or removed, a recovery code used, or the codes replaced by the owner. */
  | { kind: "second-factor-changed"; userId: string; change: SecondFactorChange }
  /** An operator removed every second factor of the account (an admin action or the command line). */
  | { kind: "second-factors-reset"; userId: string }
  /** The account was deleted: the address is carried, since no row is left to look it up in. */
  | { kind: "account-deleted"; email: string }
  /**
   * The owner asked to move the account to `email`: a confirmation link to that address, bound to
   * `credentialEpoch`, or, when another account has it, a notice to that account's owner.
   */
  | { kind: "email-change"; userId: string; email: string; credentialEpoch: number }
  /** The same request, told to the account's current address. */
  | { kind: "email-change-requested"; userId: string; email: string }
  /** The account moved from `email` to `newEmail`: told to the old address, carried since no row has it. */
  | { kind: "email-changed"; email: string; newEmail: string };

/** What happened to a second factor, for the notice mailed to its owner. */
export type SecondFactorChange =
  | "totp-added"
  | "totp-removed"
  | "passkey-added"
  | "passkey-removed"
  | "recovery-code-used"
  | "recovery-codes-regenerated";

/** One rendered message. */
export interface Mail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** Delivers rendered messages: SMTP (SMTP_URL) or files in the outbox folder. */
export interface Mailer {
  /** "smtp" or "outbox", for logs and health. */
  readonly kind: "smtp" | "outbox";
  /**
   * Resolves once the message was accepted. Rejects with a TransientMailError (mailer.ts) when the failure
   * is the transport's (connection refused, timeout, a 4xx reply), with another error when the message
   * itself was refused (a 5xx reply).
   */
  send(mail: Mail): Promise<void>;
  close(): Promise<void>;
}

/** Turns a job into the message to send, or undefined when there is nothing to send (unknown account). */
export type MailComposer = (job: MailJob) => Promise<Mail | undefined>;
