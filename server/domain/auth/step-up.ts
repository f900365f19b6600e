import type { Reauthentication } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";
import type { SecurityEvents } from "../security/events.js";
import { type AccountContext, hashClient, type SessionPort } from "./account-context.js";
import { requireUser } from "./account-sessions.js";
import type { Lockouts } from "./lockout.js";
import type { PasswordHasher } from "./password.js";
import { isRecentlyAuthenticated } from "./session-auth.js";
import type { UserRepository } from "./user-repository.js";

export interface StepUp {
  /**
   * Refuses with `reauthentication_required` (403) unless the person authenticated on this session within
   * REAUTH_MAX_AGE_SECONDS; `unauthenticated` (401) when nobody is signed in. Guard every sensitive action
   * with it (a password or email change without the current password, turning a factor off, tokens).
   */
  requireRecentAuthentication(session: SessionPort): void;
  /**
   * The password again, on the current session ("sudo mode"): counts against the lockout like a login,
   * and on success makes the session's authentication recent (`authAt` now, `pwd` in `amr`).
   */
  reauthenticate(input: Reauthentication, context: AccountContext): Promise<void>;
}

/** Step-up authentication: sensitive actions need a recent authentication on the session. */
export function createStepUp(deps: {
  config: Config;
  users: UserRepository;
  hasher: PasswordHasher;
  lockouts: Lockouts;
  events: Pick<SecurityEvents, "record">;
  logger: Logger;
}): StepUp {
  const { config, users, hasher, lockouts, events, logger } = deps;
  const maxAgeSeconds = config.session.reauthMaxAgeSeconds;

  return {
    requireRecentAuthentication(session) {
      requireUser(session);
      if (isRecentlyAuthenticated(session.auth, maxAgeSeconds)) return;
      throw new HttpError("reauthentication_required", { details: { maxAgeSeconds } });
    },

    async reauthenticate({ password }, context) {
      const user = requireUser(context.session);
      const record = await users.findById(user.id);
      if (!record || record.disabledAt) throw new HttpError("unauthenticated");
      // A wrong password counts like a wrong login: a stolen session cannot guess at full speed.
      const lockout = lockouts.lockoutFor(record.email, record, context.session.device);
      await lockout.enforce();
      const client = hashClient(context.client, config.rateLimit.ipv6PrefixBits);
      const ok = await lockouts.sparingLockout(lockout, () =>
        hasher.verify(password, record.passwordHash, client),
      );
      if (!ok) {
        events.record("login_failed", { userId: user.id });
        throw new HttpError("wrong_password", { details: { field: "password" } });
      }
      await lockout.clear();
      context.session.reauthenticated(["pwd"]);
      events.record("reauthenticated", { userId: user.id });
      logger.info({ userId: user.id }, "user authenticated again");
    },
  };
}
