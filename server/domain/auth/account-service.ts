import { type Credentials, normalizeEmail, type PasswordChange } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import { isDatabaseUnavailableError } from "../../infra/db/database.js";
import type { Logger } from "../../infra/logging/logger.js";
import { isRedisUnavailableError } from "../../infra/redis/redis-client.js";
import { DependencyUnavailableError, HttpError, ServerBusyError } from "../../lib/errors.js";
import { describeDevice } from "../../lib/user-agent.js";
import type { Metrics } from "../metrics/metrics.js";
import { addressKey } from "../ratelimit/client-key.js";
import type { ProductRateLimits } from "../ratelimit/policies.js";
import { NO_SECURITY_EVENTS, recordIfRefused, type SecurityEvents } from "../security/events.js";
import type { SessionView, UserSessions } from "../session/user-sessions.js";
import type { MailRequests } from "./account-recovery.js";
import { createDeviceCookies, type DeviceCookies, type DeviceOwner } from "./device-cookie.js";
import type { HashClient, PasswordHasher } from "./password.js";
import type { UserRecord, UserRepository } from "./user-repository.js";

const USER_AGENT_MAX = 256; // characters kept in the session
/** How long a registration may be repeated with the same email and password and still succeed. */
const REGISTRATION_RETRY_MS = 60 * 60 * 1000;

/** What a login records in the session, for the session list and the absolute timeout. */
export interface SessionAuth {
  loginAt: number;
  ip: string;
  userAgent: string;
  epoch: number;
}

/** The browser session a request came with; the routes build it from the request. */
export interface SessionPort {
  /** The session id; a new one after `logIn`. */
  readonly id: string;
  /** Who is logged in on it. */
  readonly user: Express.User | undefined;
  /** Gives the session a new id (fixation) and logs `user` in on it with `auth`. */
  logIn(user: Express.User, auth: SessionAuth): Promise<void>;
  /** Deletes the session and clears its cookie. */
  destroy(): Promise<void>;
  /** This browser's device cookie; absent where there is no browser to hold one. */
  readonly device?: DevicePort;
}

/** The browser's device cookie (device-cookie.ts), as values. */
export interface DevicePort {
  /** The value the browser sent, if any. */
  readonly value: string | undefined;
  /** Sets (or renews) the cookie. */
  set(value: string): void;
}

/** The limit a failed password check counts against: a known device's own, or the account's. */
interface Lockout {
  enforce(): Promise<void>;
  clear(): Promise<void>;
  refund(): Promise<void>;
}

/** Where a request came from, as values. */
export interface ClientInfo {
  ip: string;
  userAgent: string;
  /** HTTPS as Express sees it (after `trust proxy`). */
  secure: boolean;
}

export interface AccountContext {
  session: SessionPort;
  client: ClientInfo;
  /** Gives back what the per-address limit counted for this request; never throws. */
  refundAddress(): Promise<void>;
}

/**
 * The attempt failed because something other than the person failed: Redis or the database did not
 * answer, or the password-hash queue was full. Such an attempt says nothing about the password.
 */
export function isDependencyFailure(err: unknown): boolean {
  return err instanceof ServerBusyError || isOutage(err);
}

/** Redis or the database did not answer (not merely a busy hash queue). */
function isOutage(err: unknown): boolean {
  return (
    err instanceof DependencyUnavailableError ||
    isRedisUnavailableError(err) ||
    isDatabaseUnavailableError(err)
  );
}

/**
 * Runs a login or registration; when Redis or the database failed it, gives back the per-address units the
 * request was counted for. A full hash queue gives nothing back here: the per-address limit is what slows
 * one address flooding the queue.
 */
async function sparingAddress<T>(context: AccountContext, attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (err) {
    if (isOutage(err)) await context.refundAddress();
    throw err;
  }
}

const wrongPassword = () => new HttpError("wrong_password", { details: { field: "currentPassword" } });

/**
 * What a person can do to their account; shared by the JSON API and the HTML pages, which validate the
 * input (shared/validation.ts) and translate between HTTP and these calls. Failures are catalog errors.
 */
export interface AccountService {
  /**
   * Creates the account and logs it in. With EMAIL_VERIFICATION=required it logs nobody in and resolves
   * undefined alike for a new and a taken address (the verification link, or a "someone tried to sign
   * up" mail to the owner, goes out from the worker). Repeating a registration (same email and password, within an
   * hour) logs in to the account the first one created: an attempt that answered 503 after the row was
   * written can be retried. The repeat counts against `login-account` like a login.
   */
  register(input: Credentials, context: AccountContext): Promise<Express.User | undefined>;
  login(input: Credentials, context: AccountContext): Promise<Express.User>;
  logout(session: SessionPort): Promise<void>;
  listSessions(session: SessionPort): Promise<SessionView[]>;
  /** Ends one of the user's sessions by public id (404 when unknown); ending the current one logs out. */
  revokeSession(session: SessionPort, publicId: string): Promise<void>;
  revokeOtherSessions(session: SessionPort): Promise<number>;
  /** Changes the password, ends every other session and gives the current one a new id. */
  changePassword(input: PasswordChange, context: AccountContext): Promise<void>;
}

/** Registration, login, logout, sessions and password changes: the rules live here, once. */
export function createAccountService(deps: {
  config: Config;
  users: UserRepository;
  hasher: PasswordHasher;
  sessions: UserSessions;
  logger: Logger;
  limits: Pick<ProductRateLimits, "loginAccount" | "loginDevice"> &
    Partial<Pick<ProductRateLimits, "signInNotice">>;
  /** Default: signed with SESSION_SECRET, valid DEVICE_COOKIE_TTL_DAYS. */
  devices?: DeviceCookies;
  metrics?: Pick<Metrics, "loginsTotal" | "loginFailuresTotal" | "logoutsTotal">;
  events?: Pick<SecurityEvents, "record">;
  /** Verification links and sign-in notices; without it none are sent. */
  mail?: MailRequests;
  /** Per-address mail limit for "someone tried to sign up" mails. */
  recoveryEmail?: ProductRateLimits["recoveryEmail"];
}): AccountService {
  const { config, users, hasher, sessions, logger, limits, metrics } = deps;
  const devices =
    deps.devices ??
    createDeviceCookies({
      secrets: config.session.secrets,
      ttlSeconds: config.session.deviceCookieTtlSeconds,
    });
  const events = deps.events ?? NO_SECURITY_EVENTS;
  const { mail } = deps;
  const verification = config.mail.emailVerification;
  let warnedInsecure = false;

  /**
   * EMAIL_VERIFICATION=required: one hash, one insert attempt, one queued mail, whether or not the address
   * is taken, and the same answer. The owner of a taken address hears about the attempt by mail.
   */
  const registerUnverified = async ({ email, password }: Credentials, context: AccountContext) => {
    const passwordHash = await hasher.hash(password, hashClient(context.client));
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

  /** Hashes are capped per client address, so one client cannot fill the hash queue. */
  const hashClient = (client: ClientInfo): HashClient => ({
    client: addressKey(client.ip, config.rateLimit.ipv6PrefixBits),
  });

  /**
   * Failed checks from a browser holding a valid device cookie of this user count against that device
   * only (`login-device`); every other attempt counts against the account (`login-account`). So failures
   * from untrusted clients can lock the account for untrusted clients, never for the owner's known devices.
   */
  const lockoutFor = (email: string, owner: DeviceOwner | undefined, device?: DevicePort): Lockout => {
    const deviceId = owner ? devices.verify(device?.value, owner) : undefined;
    if (deviceId) {
      return {
        enforce: () => limits.loginDevice.enforce(deviceId),
        clear: () => limits.loginDevice.clear(deviceId),
        refund: () => limits.loginDevice.refund(deviceId),
      };
    }
    const subject = normalizeEmail(email);
    return {
      enforce: () => limits.loginAccount.enforce(subject),
      clear: () => limits.loginAccount.clear(subject),
      refund: () => limits.loginAccount.refund(subject),
    };
  };

  /** Marks this browser as a known device of `owner` (renewing its cookie when it already was one). */
  const trustDevice = (device: DevicePort | undefined, owner: DeviceOwner) => {
    if (!device) return;
    device.set(devices.issue(owner, devices.verify(device.value, owner)));
  };

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

  const warnIfCookieDropped = (client: ClientInfo) => {
    if (config.session.cookieSecure && !client.secure && !warnedInsecure) {
      warnedInsecure = true;
      logger.warn(
        "login over plain HTTP with COOKIE_SECURE=true: the browser gets no session cookie; behind a proxy set TRUST_PROXY to its hop count",
      );
    }
  };

  /**
   * Logs `user` in on a new session id, dropping the previous session of this browser from the index and
   * the least recently used sessions past SESSION_MAX_PER_USER; marks the browser as a known device.
   */
  const startSession = async (
    { session, client }: AccountContext,
    user: Express.User,
    owner: DeviceOwner,
  ) => {
    const previous = session.user ? { userId: session.user.id, sid: session.id } : undefined;
    // lastSeenAt stays unset until the first minute has passed: until then it equals loginAt.
    const auth: SessionAuth = {
      loginAt: Date.now(),
      ip: client.ip,
      userAgent: client.userAgent.slice(0, USER_AGENT_MAX),
      epoch: user.credentialEpoch ?? 0,
    };
    await session.logIn(user, auth);
    if (previous) await sessions.forget(previous.userId, [previous.sid]);
    await sessions.track(user.id, { id: session.id, auth });
    trustDevice(session.device, owner);
    if (config.session.maxPerUser > 0) {
      const ended = await sessions
        .trim(user.id, config.session.maxPerUser, session.id)
        .catch((err: unknown) => {
          logger.warn(
            { component: "session", err: err instanceof Error ? { message: err.message } : undefined },
            "sessions past SESSION_MAX_PER_USER not ended",
          );
          return 0;
        });
      if (ended > 0) logger.info({ userId: user.id, ended }, "least recently used sessions ended");
    }
    warnIfCookieDropped(client);
  };

  /**
   * Runs the part of a login attempt that can fail for want of a dependency; such a failure gives back the
   * attempt `loginAccount.enforce` counted, so an outage locks nobody out. Counting first and refunding
   * after keeps concurrent guesses from racing past the limit.
   */
  const sparingLockout = async <T>(lockout: Lockout, attempt: () => Promise<T>): Promise<T> => {
    try {
      return await attempt();
    } catch (err) {
      if (isDependencyFailure(err)) {
        await lockout.refund().catch((refundErr: unknown) =>
          logger.warn(
            {
              component: "ratelimit",
              err: refundErr instanceof Error ? { message: refundErr.message } : undefined,
            },
            "could not refund a login attempt that failed for a dependency",
          ),
        );
      }
      throw err;
    }
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
    const lockout = lockoutFor(email, existing, context.session.device);
    await lockout.enforce();
    const same = await sparingLockout(lockout, () =>
      hasher.verify(password, existing.passwordHash, hashClient(context.client)),
    );
    if (!same) throw new HttpError("email_taken");
    await lockout.clear();
    return existing;
  };

  /**
   * Mails the owner about a sign-in from a device the account has not used, once per device and address
   * a day (a client without a cookie jar is a "new device" at every login). Never fails the login.
   */
  const notifySignIn = (userId: string, client: ClientInfo) => {
    const device = describeDevice(client.userAgent);
    const allowed = limits.signInNotice
      ? limits.signInNotice.allow(userId, device, client.ip).catch(() => true) // unsure: notify
      : Promise.resolve(true);
    void allowed.then((send) => {
      if (send) mail?.queueQuietly({ kind: "new-sign-in", userId, device, ip: client.ip, at: Date.now() });
    });
  };

  const requireUser = (session: SessionPort): Express.User => {
    if (!session.user) throw new HttpError("unauthenticated");
    return session.user;
  };

  return {
    register({ email, password }, context) {
      return sparingAddress(context, async () => {
        if (verification === "required") return registerUnverified({ email, password }, context);
        let record: UserRecord;
        try {
          record = await users.create(email, await hasher.hash(password, hashClient(context.client)));
          // Optional verification: the account works at once; a mail that cannot be queued is logged.
          if (verification === "optional") {
            mail?.queueQuietly({ kind: "email-verification", userId: record.id }, record.email);
          }
        } catch (err) {
          if (!(err instanceof HttpError && err.code === "email_taken")) throw err;
          record = await repeatedRegistration(email, password, context);
        }
        const user = {
          id: record.id,
          email: record.email,
          createdAt: record.createdAt,
          credentialEpoch: record.credentialEpoch,
          emailVerified: record.emailVerifiedAt !== null,
        };
        await startSession(context, user, record);
        metrics?.loginsTotal.inc();
        logger.info({ userId: user.id }, "user registered");
        return user;
      });
    },

    login({ email, password }, context) {
      return sparingAddress(context, async () => {
        const record = await users.findByEmail(normalizeEmail(email));
        const lockout = lockoutFor(email, record, context.session.device);
        // The attempt is counted before the password is checked: a locked account spends no hash and
        // confirms nothing, and concurrent guesses cannot slip past the limit between a check and a record.
        await lockout.enforce().catch(recordIfRefused(events, "login_locked", { email }));
        const client = hashClient(context.client);
        // Unknown emails cost a full hash too, so timing does not reveal which accounts exist.
        const ok = await sparingLockout(lockout, () =>
          record
            ? hasher.verify(password, record.passwordHash, client)
            : hasher.verifyDummy(password, client),
        );
        if (!record || !ok || record.disabledAt) {
          metrics?.loginFailuresTotal.inc();
          events.record("login_failed", { email });
          throw new HttpError("invalid_credentials");
        }
        await lockout.clear();
        // Only after the password verified: the answer never tells whether an address has an account.
        if (verification === "required" && !record.emailVerifiedAt) throw new HttpError("email_not_verified");
        await upgradeHash(record, password, client);
        const knownDevice = devices.verify(context.session.device?.value, record) !== undefined;
        // The epoch of the row whose password was verified: a change that lands while this login is in
        // flight makes the session it creates invalid.
        const user: Express.User = {
          id: record.id,
          email: record.email,
          createdAt: record.createdAt,
          credentialEpoch: record.credentialEpoch,
          emailVerified: record.emailVerifiedAt !== null,
        };
        await startSession(context, user, record);
        metrics?.loginsTotal.inc();
        events.record("login_succeeded", { userId: user.id });
        if (config.mail.notifyNewSignIn && !knownDevice) notifySignIn(user.id, context.client);
        logger.info({ userId: user.id }, "user logged in");
        return user;
      });
    },

    async logout(session) {
      const userId = session.user?.id;
      const sid = session.id;
      await session.destroy();
      if (userId) {
        await sessions.forget(userId, [sid]);
        metrics?.logoutsTotal.inc();
        events.record("logged_out", { userId });
        logger.info({ userId }, "user logged out");
      }
    },

    async listSessions(session) {
      return sessions.list(requireUser(session).id, session.id);
    },

    async revokeSession(session, publicId) {
      const user = requireUser(session);
      const { found, sid } = await sessions.revoke(user.id, publicId);
      if (!found) throw new HttpError("not_found", { message: "No such session" });
      logger.info({ userId: user.id }, "session revoked");
      events.record("session_revoked", { userId: user.id });
      // The store copy is gone; make sure this request does not write the current one back.
      if (sid === session.id) await session.destroy();
    },

    async revokeOtherSessions(session) {
      const user = requireUser(session);
      const count = await sessions.revokeOthers(user.id, session.id);
      // Every other device is forgotten too; this browser stays known with a new cookie.
      const deviceEpoch = await users.revokeDevices(user.id);
      if (deviceEpoch !== undefined) {
        trustDevice(session.device, { id: user.id, credentialEpoch: user.credentialEpoch ?? 0, deviceEpoch });
      }
      logger.info({ userId: user.id, count }, "other sessions revoked");
      events.record("other_sessions_revoked", { userId: user.id, count });
      return count;
    },

    async changePassword({ currentPassword, newPassword }, context) {
      const user = requireUser(context.session);
      const record = await users.findById(user.id);
      if (!record) throw new HttpError("unauthenticated");
      // A wrong current password counts like a wrong login: a stolen session cannot guess at full speed.
      const lockout = lockoutFor(record.email, record, context.session.device);
      await lockout.enforce();
      const client = hashClient(context.client);
      const ok = await sparingLockout(lockout, () =>
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
      // The new epoch voids every device cookie; this browser gets one under it.
      await startSession(context, { ...user, credentialEpoch: epoch }, { ...record, credentialEpoch: epoch });
      logger.info({ userId: user.id, revoked }, "password changed");
      events.record("password_changed", { userId: user.id, count: revoked });
    },
  };
}
