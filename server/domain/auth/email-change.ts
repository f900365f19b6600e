import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";
import type { ProductRateLimits } from "../ratelimit/policies.js";
import { NO_SECURITY_EVENTS, type SecurityEvents } from "../security/events.js";
import type { MailRequests } from "./account-recovery.js";
import type { AccountTokens } from "./account-tokens.js";
import type { UserRepository } from "./user-repository.js";

/**
 * A signed-in user moves their account to another address: the request (step-up is the caller's guard)
 * mails a single-use link to the new address, and the link's use makes the change.
 */
export interface EmailChange {
  /**
   * Queues the link to `email` (already validated and in its normal form) and a notice to the current
   * address; the same answer and the same work whether or not another account has `email` (its owner is
   * told instead). `invalid_request` when it is the account's own address.
   */
  request(user: Pick<Express.User, "id" | "email">, email: string): Promise<void>;
  /**
   * Moves the account to the address the token was mailed to and marks it verified; sessions stay. Else
   * `invalid_token` (unknown, used, expired, or a password change since), `email_taken` (taken meanwhile).
   */
  confirm(token: string): Promise<void>;
}

export function createEmailChange(deps: {
  users: UserRepository;
  tokens: AccountTokens;
  mail: MailRequests;
  limits: Pick<ProductRateLimits, "recoveryEmail">;
  logger: Logger;
  events?: Pick<SecurityEvents, "record">;
}): EmailChange {
  const { users, tokens, mail, limits, logger } = deps;
  const events = deps.events ?? NO_SECURITY_EVENTS;
  const invalidToken = () => new HttpError("invalid_token");

  return {
    async request(user, email) {
      const record = await users.findById(user.id);
      if (!record || record.disabledAt) throw new HttpError("unauthenticated");
      if (email.toLowerCase() === record.email.toLowerCase()) {
        throw new HttpError("invalid_request", {
          message: "email is already this account's address",
          details: { field: "email" },
        });
      }
      events.record("email_change_requested", { userId: user.id });
      logger.info({ userId: user.id }, "email change requested");
      // Over its mail budget, the new address gets nothing, with the same answer.
      if (!(await limits.recoveryEmail.allow(email))) return;
      // The worker decides between the link and the notice: this request does the same work either way.
      await mail.queue(
        { kind: "email-change", userId: user.id, email, credentialEpoch: record.credentialEpoch },
        `${user.id}:${email}`,
        { blind: true },
      );
      mail.queueQuietly({ kind: "email-change-requested", userId: user.id, email }, `${user.id}:${email}`);
    },

    async confirm(token) {
      const grant = await tokens.consume(token, "email_change");
      if (!grant?.email || grant.credentialEpoch === undefined) throw invalidToken();
      const user = await users.findById(grant.userId);
      if (!user || user.disabledAt || user.credentialEpoch !== grant.credentialEpoch) throw invalidToken();
      // One statement, compare-and-set on the epoch; a taken address throws `email_taken` and changes nothing.
      if (!(await users.changeEmail(user.id, grant.email, grant.credentialEpoch))) throw invalidToken();
      mail.queueQuietly({ kind: "email-changed", email: user.email, newEmail: grant.email });
      logger.info({ userId: user.id }, "email changed");
      events.record("email_changed", { userId: user.id });
    },
  };
}
