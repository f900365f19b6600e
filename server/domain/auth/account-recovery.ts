import { createHash } from "node:crypto";
import { normalizeEmail, type PasswordReset } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { JobQueue } from "../../infra/jobs/queue.js";
import type { Logger } from "../../infra/logging/logger.js";
import type { MailJob } from "../../infra/mail/types.js";
import { HttpError } from "../../lib/errors.js";
import { addressKey } from "../ratelimit/client-key.js";
import type { ProductRateLimits } from "../ratelimit/policies.js";
import { NO_SECURITY_EVENTS, type SecurityEvents } from "../security/events.js";
import type { UserSessions } from "../session/user-sessions.js";
import type { ClientInfo } from "./account-context.js";
import type { AccountTokens } from "./account-tokens.js";
import type { PasswordHasher } from "./password.js";
import type { UserRepository } from "./user-repository.js";

/** Repeats of one mail request within this window are one job (a double click, a retried request). */
const DEDUPE_WINDOW_MS = 60_000;
/**
 * Mails asked for by address wait this long before the worker composes them. An inline worker otherwise
 * starts the lookup, token and SMTP work for an existing account while the answer is still being written,
 * which made that answer measurably slower than one for an unknown address on a busy machine.
 */
export const BLIND_MAIL_DELAY_MS = 1000;

/** Puts mail jobs on the queue; a queue that cannot take one answers a fast 503. */
export interface MailRequests {
  /**
   * Resolves once the job is stored; rejects with `service_unavailable` when the queue refused it.
   * `blind`: the request answers alike whether or not an account exists; its mail waits BLIND_MAIL_DELAY_MS.
   */
  queue(job: MailJob, dedupeKey?: string, options?: { blind?: boolean }): Promise<void>;
  /** The same without waiting or failing: a refusal is logged (mails that must not fail their request). */
  queueQuietly(job: MailJob, dedupeKey?: string): void;
}

/** Job ids carry no address: a digest of what the repeats share, and the minute. */
function jobId(kind: string, key: string): string {
  const digest = createHash("sha256").update(key).digest("base64url").slice(0, 22);
  return `${kind}-${digest}-${Math.floor(Date.now() / DEDUPE_WINDOW_MS)}`;
}

export function createMailRequests(deps: { queue: JobQueue<MailJob>; logger: Logger }): MailRequests {
  const { queue, logger } = deps;
  const add = (job: MailJob, dedupeKey?: string, blind = false) =>
    queue.add(job, {
      ...(dedupeKey ? { jobId: jobId(job.kind, dedupeKey) } : {}),
      ...(blind ? { delayMs: BLIND_MAIL_DELAY_MS } : {}),
    });
  const describe = (err: unknown) => ({ message: err instanceof Error ? err.message : String(err) });
  return {
    async queue(job, dedupeKey, options) {
      try {
        await add(job, dedupeKey, options?.blind);
      } catch (err) {
        logger.warn({ component: "mail", kind: job.kind, err: describe(err) }, "mail job not queued");
        throw new HttpError("service_unavailable", { cause: err });
      }
    },
    queueQuietly(job, dedupeKey) {
      add(job, dedupeKey).catch((err: unknown) =>
        logger.warn({ component: "mail", kind: job.kind, err: describe(err) }, "mail job not queued"),
      );
    },
  };
}

/** Who asks for the verification link again: the logged-in user, or anyone naming an address. */
export type ResendRequest = { userId: string; email: string } | { email: string };

/**
 * "Forgot password", the reset itself, and email verification. Requests that name an address do the same
 * work whether or not an account has it (the worker looks the account up); token uses are single and atomic.
 */
export interface AccountRecovery {
  /** Queues a reset mail for the address (sent only if an active account has it); same work either way. */
  forgotPassword(email: string): Promise<void>;
  /**
   * Sets the new password if the token is valid, unused, unexpired and no password change came after it;
   * ends every session and device cookie of the user. Does not log in. Else `invalid_token`.
   */
  resetPassword(input: PasswordReset, client: ClientInfo): Promise<void>;
  /** Whether a reset link still works (the reset page's GET; it does not use the token). */
  checkResetToken(token: string): Promise<boolean>;
  /** Marks the address the token was mailed to as verified; else `invalid_token`. */
  verifyEmail(token: string): Promise<void>;
  /** Queues a new verification link (sent only to an unverified account); same answer either way. */
  resendVerification(request: ResendRequest): Promise<void>;
}

export function createAccountRecovery(deps: {
  config: Config;
  users: UserRepository;
  tokens: AccountTokens;
  hasher: PasswordHasher;
  sessions: Pick<UserSessions, "revokeOthers">;
  mail: MailRequests;
  limits: Pick<ProductRateLimits, "recoveryEmail" | "loginAccount">;
  logger: Logger;
  events?: Pick<SecurityEvents, "record">;
}): AccountRecovery {
  const { config, users, tokens, hasher, sessions, mail, limits, logger } = deps;
  const events = deps.events ?? NO_SECURITY_EVENTS;
  const invalidToken = () => new HttpError("invalid_token");

  return {
    async forgotPassword(email) {
      const address = normalizeEmail(email);
      if (!(await limits.recoveryEmail.allow(address))) return;
      await mail.queue({ kind: "password-reset", email: address }, address, { blind: true });
    },

    async resetPassword({ token, newPassword }, client) {
      // A token that cannot work costs no hash; a valid one is used only once the new hash is ready, so a
      // busy hash queue (503) leaves the link usable.
      if (!(await tokens.peek(token, "password_reset"))) throw invalidToken();
      const passwordHash = await hasher.hash(newPassword, {
        client: addressKey(client.ip, config.rateLimit.ipv6PrefixBits),
      });
      const grant = await tokens.consume(token, "password_reset");
      if (!grant) throw invalidToken();
      const user = await users.findById(grant.userId);
      if (!user || user.disabledAt || user.credentialEpoch !== grant.credentialEpoch) throw invalidToken();
      // Compare-and-set on the epoch: a password change landing meanwhile wins and this link fails.
      const epoch = await users.updatePassword(user.id, passwordHash, grant.credentialEpoch);
      if (epoch === undefined) throw invalidToken();
      // The new epoch already ends every session; deleting them keeps the index and Redis honest, and the
      // device epoch forgets every device, as "sign out everywhere" does.
      const revoked = await sessions.revokeOthers(user.id, "");
      await users.revokeDevices(user.id);
      // Reading the mail proved the address; failed guesses at the old password no longer matter.
      if (!user.emailVerifiedAt) await users.markEmailVerified(user.id, user.email);
      await limits.loginAccount.clear(normalizeEmail(user.email));
      logger.info({ userId: user.id, revoked }, "password reset");
      events.record("password_reset", { userId: user.id, count: revoked });
    },

    checkResetToken: (token) => tokens.peek(token, "password_reset"),

    async verifyEmail(token) {
      const grant = await tokens.consume(token, "email_verification");
      if (!grant?.email || !(await users.markEmailVerified(grant.userId, grant.email))) throw invalidToken();
      logger.info({ userId: grant.userId }, "email verified");
    },

    async resendVerification(request) {
      if (config.mail.emailVerification === "off") return;
      const address = normalizeEmail(request.email);
      if (!(await limits.recoveryEmail.allow(address))) return;
      await mail.queue(
        "userId" in request
          ? { kind: "email-verification", userId: request.userId }
          : { kind: "email-verification", email: address },
        address,
        { blind: !("userId" in request) },
      );
    },
  };
}
