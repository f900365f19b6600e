import type { Credentials } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";
import type { ProductRateLimits } from "../ratelimit/policies.js";
import { type AccountContext, hashClient } from "./account-context.js";
import type { MailRequests } from "./account-recovery.js";
import { sparingAddress } from "./dependency-failure.js";
import type { Lockouts } from "./lockout.js";
import type { PasswordHasher } from "./password.js";
import type { SignIn } from "./sign-in.js";
import type { UserRecord, UserRepository } from "./user-repository.js";

/** How long a registration may be repeated with the same email and password and still succeed. */
const REGISTRATION_RETRY_MS = 60 * 60 * 1000;

/** Registration: a new account signed in at once, or a verification mail first (EMAIL_VERIFICATION). */
export function createRegistration(deps: {
  config: Config;
  users: UserRepository;
  hasher: PasswordHasher;
  logger: Logger;
  lockouts: Lockouts;
  signIn: SignIn;
  mail?: MailRequests;
  recoveryEmail?: ProductRateLimits["recoveryEmail"];
}) {
  const { config, users, hasher, logger, lockouts, signIn, mail } = deps;
  const verification = config.mail.emailVerification;
  const clientOf = (context: AccountContext) => hashClient(context.client, config.rateLimit.ipv6PrefixBits);

  /**
   * EMAIL_VERIFICATION=required: one hash, one insert attempt, one queued mail, whether or not the address
   * is taken, and the same answer. The owner of a taken address hears about the attempt by mail.
   */
  const registerUnverified = async ({ email, password }: Credentials, context: AccountContext) => {
    const passwordHash = await hasher.hash(password, clientOf(context));
    const allowed = (await deps.recoveryEmail?.allow(email)) ?? true;
    try {
      const record = await users.create(email, passwordHash);
      logger.info({ userId: record.id }, "user registered (email not verified yet)");
      if (allowed)
        await mail?.queue({ kind: "email-verification", userId: record.id }, email, { blind: true });
    } catch (err) {
      if (!(err instanceof HttpError && err.code === "email_taken")) throw err;
      if (allowed) await mail?.queue({ kind: "registration-attempt", email }, email, { blind: true });
    }
    return undefined;
  };

  /** A registration repeated after its first answer was lost or was a 503: the same password logs in. */
  const repeatedRegistration = async (
    email: string,
    password: string,
    context: AccountContext,
  ): Promise<UserRecord> => {
    const existing = await users.findByEmail(email);
    if (
      !existing ||
      existing.disabledAt ||
      Date.now() - existing.createdAt.getTime() > REGISTRATION_RETRY_MS
    ) {
      throw new HttpError("email_taken");
    }
    const lockout = lockouts.lockoutFor(email, existing, context.session.device);
    await lockout.enforce();
    const same = await lockouts.sparingLockout(lockout, () =>
      hasher.verify(password, existing.passwordHash, clientOf(context)),
    );
    if (!same) throw new HttpError("email_taken");
    await lockout.clear();
    return existing;
  };

  return {
    register({ email, password }: Credentials, context: AccountContext): Promise<Express.User | undefined> {
      return sparingAddress(context, async () => {
        if (verification === "required") return registerUnverified({ email, password }, context);
        let record: UserRecord;
        try {
          record = await users.create(email, await hasher.hash(password, clientOf(context)));
          // Optional verification: the account works at once; a mail that cannot be queued is logged.
          if (verification === "optional") {
            mail?.queueQuietly({ kind: "email-verification", userId: record.id }, record.email);
          }
        } catch (err) {
          if (!(err instanceof HttpError && err.code === "email_taken")) throw err;
          record = await repeatedRegistration(email, password, context);
        }
        const user = await signIn.signIn(record, context, { amr: ["pwd"], newAccount: true });
        logger.info({ userId: user.id }, "user registered");
        return user;
      });
    },
  };
}
