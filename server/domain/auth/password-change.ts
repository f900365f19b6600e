import type { PasswordChange } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";
import type { SecurityEvents } from "../security/events.js";
import type { UserSessions } from "../session/user-sessions.js";
import { type AccountContext, hashClient } from "./account-context.js";
import { requireUser } from "./account-sessions.js";
import type { Lockouts } from "./lockout.js";
import type { PasswordHasher } from "./password.js";
import { type AuthMethod, sessionAmr } from "./session-auth.js";
import type { SignIn } from "./sign-in.js";
import type { UserRepository } from "./user-repository.js";

const wrongPassword = () => new HttpError("wrong_password", { details: { field: "currentPassword" } });

/** A signed-in user changes their password, proving the current one. */
export function createPasswordChange(deps: {
  config: Config;
  users: UserRepository;
  hasher: PasswordHasher;
  sessions: UserSessions;
  logger: Logger;
  lockouts: Lockouts;
  signIn: Pick<SignIn, "renewSession">;
  events: Pick<SecurityEvents, "record">;
}) {
  const { config, users, hasher, sessions, logger, lockouts, signIn, events } = deps;

  return {
    async changePassword({ currentPassword, newPassword }: PasswordChange, context: AccountContext) {
      const user = requireUser(context.session);
      const record = await users.findById(user.id);
      if (!record) throw new HttpError("unauthenticated");
      // A wrong current password counts like a wrong login: a stolen session cannot guess at full speed.
      const lockout = lockouts.lockoutFor(record.email, record, context.session.device);
      await lockout.enforce();
      const client = hashClient(context.client, config.rateLimit.ipv6PrefixBits);
      const ok = await lockouts.sparingLockout(lockout, () =>
        hasher.verify(currentPassword, record.passwordHash, client),
      );
      if (!ok) throw wrongPassword();
      await lockout.clear();
      // Only if the password verified above is still the current one (no other change landed meanwhile).
      const epoch = await users.updatePassword(
        user.id,
        await hasher.hash(newPassword, client),
        record.credentialEpoch,
      );
      if (epoch === undefined) throw wrongPassword();
      // The epoch already ends every older session; deleting them too keeps the index and Redis honest.
      const revoked = await sessions.revokeOthers(user.id, context.session.id);
      // The new epoch voids every device cookie; this browser gets one under it. The new session keeps the
      // methods the old one was authenticated with, and the password was just proven again.
      const previous = context.session.auth ? sessionAmr(context.session.auth) : [];
      const amr: AuthMethod[] = [...new Set<AuthMethod>([...previous, "pwd"])];
      await signIn.renewSession({ ...record, credentialEpoch: epoch }, context, amr);
      logger.info({ userId: user.id, revoked }, "password changed");
      events.record("password_changed", { userId: user.id, count: revoked });
    },
  };
}
