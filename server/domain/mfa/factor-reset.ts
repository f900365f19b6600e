import type { Logger } from "../../infra/logging/logger.js";
import type { MailRequests } from "../auth/account-recovery.js";
import type { SecurityEvents } from "../security/events.js";
import type { MfaRepository } from "./mfa-repository.js";
import type { PasskeyRepository } from "./passkey-repository.js";

/** A user's second factors as an admin sees them: never a secret, only what exists. */
export interface FactorSummary {
  totp: boolean;
  passkeys: number;
  recoveryCodesLeft: number;
}

export interface FactorReset {
  summary(userId: string): Promise<FactorSummary>;
  /**
   * Removes every second factor of `userId` (TOTP, recovery codes, passkeys) so its owner, who lost them,
   * can sign in with the password and set new ones up. `actor` names who did it in the log and the
   * event (an admin's id, `api_key`, `cli`); the owner is mailed. Answers what was there before.
   */
  reset(userId: string, actor: string): Promise<FactorSummary>;
}

/** The one way factors are reset, for the admin API, the console and `npm run ops -- users mfa-reset`. */
export function createFactorReset(deps: {
  repository: Pick<MfaRepository, "totpOf" | "removeTotp" | "recoveryCodesLeft">;
  passkeys: Pick<PasskeyRepository, "countFor" | "removeAll">;
  mail: Pick<MailRequests, "queueQuietly">;
  logger: Logger;
  /** The user's event list; the command line has none and logs only. */
  events?: Pick<SecurityEvents, "record">;
}): FactorReset {
  const { repository, passkeys, mail, logger, events } = deps;

  const summary = async (userId: string): Promise<FactorSummary> => {
    const totp = (await repository.totpOf(userId))?.confirmedAt != null;
    const [count, left] = await Promise.all([
      passkeys.countFor(userId),
      totp ? repository.recoveryCodesLeft(userId) : Promise.resolve(0),
    ]);
    return { totp, passkeys: count, recoveryCodesLeft: left };
  };

  return {
    summary,
    async reset(userId, actor) {
      const before = await summary(userId);
      await repository.removeTotp(userId);
      await passkeys.removeAll(userId);
      events?.record("second_factors_reset", { userId, actor });
      logger.info({ userId, actor, ...before }, "second factors reset");
      // Always mailed, even when there was nothing to remove: the owner learns an admin looked at it.
      mail.queueQuietly({ kind: "second-factors-reset", userId });
      return before;
    },
  };
}
