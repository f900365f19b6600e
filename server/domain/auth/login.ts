import { type Credentials, normalizeEmail } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";
import type { Metrics } from "../metrics/metrics.js";
import { recordIfRefused, type SecurityEvents } from "../security/events.js";
import { type AccountContext, hashClient } from "./account-context.js";
import type { BeginSignIn, SignInOutcome } from "./begin-sign-in.js";
import { sparingAddress } from "./dependency-failure.js";
import type { Lockouts } from "./lockout.js";
import type { HashClient, PasswordHasher } from "./password.js";
import type { UserRecord, UserRepository } from "./user-repository.js";

/** Password login: lockout, the constant-time check, the hash upgrade, then the common first-step decision. */
export function createLogin(deps: {
  config: Config;
  users: UserRepository;
  hasher: PasswordHasher;
  logger: Logger;
  lockouts: Lockouts;
  beginSignIn: BeginSignIn;
  metrics?: Pick<Metrics, "loginFailuresTotal">;
  events: Pick<SecurityEvents, "record">;
}) {
  const { config, users, hasher, logger, lockouts, beginSignIn, metrics, events } = deps;
  const verification = config.mail.emailVerification;

  /** Re-hashes a password whose stored hash was made with other parameters than the configured ones. */
  const upgradeHash = async (record: UserRecord, password: string, client: HashClient) => {
    if (!hasher.needsRehash(record.passwordHash)) return;
    try {
      const upgraded = await hasher.hash(password, client);
      if (await users.rehashPassword(record.id, upgraded, record.passwordHash)) {
        logger.info({ userId: record.id }, "password hash upgraded to the configured cost");
      }
    } catch (err) {
      // The login stands; the next one tries again.
      logger.warn(
        { userId: record.id, err: err instanceof Error ? { message: err.message } : undefined },
        "password hash not upgraded",
      );
    }
  };

  return {
    login({ email, password }: Credentials, context: AccountContext): Promise<SignInOutcome> {
      return sparingAddress(context, async () => {
        const record = await users.findByEmail(normalizeEmail(email));
        const lockout = lockouts.lockoutFor(email, record, context.session.device);
        await lockouts.admitClient(lockout, context);
        // The attempt is counted before the password is checked: a locked account spends no hash and
        // confirms nothing, and concurrent guesses cannot slip past the limit between a check and a record.
        await lockout.enforce().catch(recordIfRefused(events, "login_locked", { email }));
        const client = hashClient(context.client, config.rateLimit.ipv6PrefixBits);
        // Unknown emails cost a full hash too, so timing does not reveal which accounts exist.
        const ok = await lockouts.sparingLockout(lockout, () =>
          // An account made by a sign-in provider has no password (an empty hash): it costs a hash too.
          record?.passwordHash
            ? hasher.verify(password, record.passwordHash, client)
            : hasher.verifyDummy(password, client),
        );
        if (!record || !ok) {
          metrics?.loginFailuresTotal.inc();
          events.record("login_failed", { email });
          throw new HttpError("invalid_credentials");
        }
        // Only after the password verified: without it the answer is the generic one above, so only the
        // owner learns that an admin disabled the account.
        if (record.disabledAt) {
          events.record("login_refused_disabled", { userId: record.id });
          throw new HttpError("account_disabled");
        }
        await lockout.clear();
        // Only after the password verified: the answer never tells whether an address has an account.
        if (verification === "required" && !record.emailVerifiedAt) throw new HttpError("email_not_verified");
        await upgradeHash(record, password, client);
        return beginSignIn.beginSignIn(record, context, { amr: ["pwd"] });
      });
    },
  };
}
