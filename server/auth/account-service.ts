import type { Request, Response } from "express";
import {
  emailProblem,
  normalizeEmail,
  PASSWORD_MAX_LENGTH,
  passwordProblem,
} from "../../shared/validation.js";
import type { Config } from "../config/config.js";
import { isDatabaseUnavailableError } from "../db/database.js";
import {
  badRequest,
  DependencyUnavailableError,
  emailTaken,
  HttpError,
  invalidCredentials,
  notFound,
  ServerBusyError,
  unauthenticated,
} from "../http/errors.js";
import type { Logger } from "../logging/logger.js";
import type { Metrics } from "../metrics/metrics.js";
import type { ProductRateLimits } from "../ratelimit/policies.js";
import { refundRequest } from "../ratelimit/rate-limit.js";
import { isRedisUnavailableError } from "../redis/redis-client.js";
import type { SessionView, UserSessions } from "../session/user-sessions.js";
import type { createPassport } from "./passport.js";
import type { PasswordHasher } from "./password.js";
import type { UserRecord, UserRepository } from "./user-repository.js";

type Authenticator = ReturnType<typeof createPassport>;

const USER_AGENT_MAX = 256; // characters kept in the session
/** How long a registration may be repeated with the same email and password and still succeed. */
const REGISTRATION_RETRY_MS = 60 * 60 * 1000;

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
async function sparingAddress<T>(res: Response, attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (err) {
    if (isOutage(err)) await refundRequest(res);
    throw err;
  }
}

export interface Credentials {
  email: string;
  password: string;
}

export type FieldProblems = Partial<Record<string, string>>;

/** Every problem with `{email, password}`, by field; `strict` applies the registration rules. */
export function credentialProblems(body: unknown, strict: boolean): FieldProblems {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { body: "The body must be a JSON object with email and password" };
  }
  const { email, password } = body as Record<string, unknown>;
  const problems: FieldProblems = {};
  problems.email = emailProblem(email);
  problems.password = strict ? passwordProblem(password) : requiredPasswordProblem(password, "password");
  return withoutEmpty(problems);
}

function requiredPasswordProblem(value: unknown, field: string): string | undefined {
  if (typeof value !== "string" || value.length === 0) return `${field} is required`;
  if (value.length > PASSWORD_MAX_LENGTH) return `${field} must be at most ${PASSWORD_MAX_LENGTH} characters`;
  return undefined;
}

/** Every problem with `{currentPassword, newPassword}`, by field. */
export function passwordChangeProblems(body: unknown): FieldProblems {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { body: "The body must be a JSON object with currentPassword and newPassword" };
  }
  const { currentPassword, newPassword } = body as Record<string, unknown>;
  return withoutEmpty({
    currentPassword: requiredPasswordProblem(currentPassword, "currentPassword"),
    newPassword: passwordProblem(newPassword, "newPassword"),
  });
}

function withoutEmpty(problems: FieldProblems): FieldProblems {
  for (const key of Object.keys(problems)) if (problems[key] === undefined) delete problems[key];
  return problems;
}

/** The first problem as the API's 400, naming its field. */
function throwFirst(problems: FieldProblems): void {
  const [field, message] = Object.entries(problems)[0] ?? [];
  if (field && message) throw badRequest(message, { field });
}

/** Checks `{email, password}`; `strict` applies the registration rules to the password. */
export function readCredentials(body: unknown, strict: boolean): Credentials {
  throwFirst(credentialProblems(body, strict));
  const { email, password } = body as Credentials;
  return { email: normalizeEmail(email), password };
}

/** Regenerates the session id (fixation) and records login metadata for the absolute timeout. */
export function logIn(req: Request, user: Express.User): Promise<void> {
  return new Promise((resolve, reject) => {
    req.logIn(user, (err) => {
      if (err) return reject(err);
      // lastSeenAt stays unset until the first minute has passed: until then it equals loginAt.
      req.session.auth = {
        loginAt: Date.now(),
        ip: req.ip ?? "",
        userAgent: (req.get("user-agent") ?? "").slice(0, USER_AGENT_MAX),
        epoch: user.credentialEpoch ?? 0,
      };
      resolve();
    });
  });
}

export function authenticate(
  passport: Authenticator,
  req: Request,
  res: Response,
): Promise<Express.User | false> {
  return new Promise((resolve, reject) => {
    passport.authenticate("local", { session: false }, (err: unknown, user: Express.User | false) =>
      err ? reject(err) : resolve(user),
    )(req, res, () => undefined);
  });
}

export function clearSessionCookie(res: Response, config: Config): void {
  res.clearCookie(config.session.cookieName, {
    path: "/",
    domain: config.forwardAuth.cookieDomain,
    httpOnly: true,
    secure: config.session.cookieSecure,
    sameSite: config.session.sameSite,
  });
}

export function destroySession(req: Request, res: Response, config: Config): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!req.session) {
      clearSessionCookie(res, config);
      return resolve();
    }
    req.session.destroy((err) => {
      if (err) return reject(err);
      clearSessionCookie(res, config);
      resolve();
    });
  });
}

export const wrongPassword = () =>
  new HttpError(403, "wrong_password", "The current password is incorrect", { field: "currentPassword" });

/** What a signed-in person can do to their account; shared by the JSON API and the HTML pages. */
export interface AccountService {
  /**
   * Creates the account and logs it in. Repeating a registration (same email and password, within an
   * hour) logs in to the account the first one created: an attempt that answered 503 after the row was
   * written can be retried. The repeat counts against `login-account` like a login.
   */
  register(req: Request, res: Response, body: unknown): Promise<Express.User>;
  login(req: Request, res: Response, body: unknown): Promise<Express.User>;
  logout(req: Request, res: Response): Promise<void>;
  listSessions(req: Request): Promise<SessionView[]>;
  /** Ends one of the user's sessions by public id (404 when unknown); ending the current one logs out. */
  revokeSession(req: Request, res: Response, publicId: string): Promise<void>;
  revokeOtherSessions(req: Request): Promise<number>;
  /** Changes the password, ends every other session and gives the current one a new id. */
  changePassword(req: Request, body: unknown): Promise<void>;
}

/** Registration, login, logout, sessions and password changes: the rules live here, once. */
export function createAccountService(deps: {
  config: Config;
  passport: Authenticator;
  users: UserRepository;
  hasher: PasswordHasher;
  sessions: UserSessions;
  logger: Logger;
  limits: Pick<ProductRateLimits, "loginAccount">;
  metrics?: Pick<Metrics, "loginsTotal" | "loginFailuresTotal" | "logoutsTotal">;
}): AccountService {
  const { config, passport, users, hasher, sessions, logger, limits, metrics } = deps;
  let warnedInsecure = false;

  const warnIfCookieDropped = (req: Request) => {
    if (config.session.cookieSecure && !req.secure && !warnedInsecure) {
      warnedInsecure = true;
      logger.warn(
        "login over plain HTTP with COOKIE_SECURE=true: the browser gets no session cookie; behind a proxy set TRUST_PROXY to its hop count",
      );
    }
  };

  /** Logs `user` in on a new session id, dropping the previous session of this browser from the index. */
  const startSession = async (req: Request, user: Express.User) => {
    const previous = req.user ? { userId: req.user.id, sid: req.sessionID } : undefined;
    await logIn(req, user);
    if (previous) await sessions.forget(previous.userId, [previous.sid]);
    await sessions.track(req, user.id);
    warnIfCookieDropped(req);
  };

  /**
   * Runs the part of a login attempt that can fail for want of a dependency; such a failure gives back the
   * attempt `loginAccount.enforce` counted, so an outage locks nobody out. Counting first and refunding
   * after keeps concurrent guesses from racing past the limit.
   */
  const sparingLockout = async <T>(email: string, attempt: () => Promise<T>): Promise<T> => {
    try {
      return await attempt();
    } catch (err) {
      if (isDependencyFailure(err)) {
        await limits.loginAccount.refund(email).catch((refundErr: unknown) =>
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
    res: Response,
    email: string,
    password: string,
  ): Promise<UserRecord> => {
    const existing = await users.findByEmail(email);
    if (
      !existing ||
      existing.disabledAt ||
      Date.now() - existing.createdAt.getTime() > REGISTRATION_RETRY_MS
    ) {
      throw emailTaken();
    }
    await limits.loginAccount.enforce(email, res);
    const same = await sparingLockout(email, () => hasher.verify(password, existing.passwordHash));
    if (!same) throw emailTaken();
    await limits.loginAccount.clear(email);
    return existing;
  };

  const requireUser = (req: Request): Express.User => {
    if (!req.user) throw unauthenticated();
    return req.user;
  };

  return {
    register(req, res, body) {
      return sparingAddress(res, async () => {
        const { email, password } = readCredentials(body, true);
        let record: UserRecord;
        try {
          record = await users.create(email, await hasher.hash(password));
        } catch (err) {
          if (!(err instanceof HttpError && err.code === "email_taken")) throw err;
          record = await repeatedRegistration(res, email, password);
        }
        const user = {
          id: record.id,
          email: record.email,
          createdAt: record.createdAt,
          credentialEpoch: record.credentialEpoch,
        };
        await startSession(req, user);
        metrics?.loginsTotal.inc();
        logger.info({ userId: user.id }, "user registered");
        return user;
      });
    },

    login(req, res, body) {
      return sparingAddress(res, async () => {
        const { email } = readCredentials(body, false);
        // The attempt is counted before the password is checked: a locked account spends no hash and
        // confirms nothing, and concurrent guesses cannot slip past the limit between a check and a record.
        await limits.loginAccount.enforce(email, res);
        const user = await sparingLockout(email, () => authenticate(passport, req, res));
        if (!user) {
          metrics?.loginFailuresTotal.inc();
          throw invalidCredentials();
        }
        await limits.loginAccount.clear(email);
        await startSession(req, user);
        metrics?.loginsTotal.inc();
        logger.info({ userId: user.id }, "user logged in");
        return user;
      });
    },

    async logout(req, res) {
      const userId = req.user?.id;
      const sid = req.sessionID;
      await destroySession(req, res, config);
      if (userId) {
        await sessions.forget(userId, [sid]);
        metrics?.logoutsTotal.inc();
        logger.info({ userId }, "user logged out");
      }
    },

    listSessions(req) {
      return sessions.list(requireUser(req).id, req.sessionID);
    },

    async revokeSession(req, res, publicId) {
      const user = requireUser(req);
      const { found, sid } = await sessions.revoke(user.id, publicId);
      if (!found) throw notFound("No such session");
      logger.info({ userId: user.id }, "session revoked");
      // The store copy is gone; make sure this request does not write the current one back.
      if (sid === req.sessionID) await destroySession(req, res, config);
    },

    async revokeOtherSessions(req) {
      const user = requireUser(req);
      const count = await sessions.revokeOthers(user.id, req.sessionID);
      logger.info({ userId: user.id, count }, "other sessions revoked");
      return count;
    },

    async changePassword(req, body) {
      const user = requireUser(req);
      throwFirst(passwordChangeProblems(body));
      const { currentPassword, newPassword } = body as { currentPassword: string; newPassword: string };
      const record = await users.findById(user.id);
      if (!record) throw unauthenticated();
      if (!(await hasher.verify(currentPassword, record.passwordHash))) throw wrongPassword();
      // Only if the password verified above is still the current one (no other change landed meanwhile).
      const epoch = await users.updatePassword(
        user.id,
        await hasher.hash(newPassword),
        record.credentialEpoch,
      );
      if (epoch === undefined) throw wrongPassword();
      // The epoch already ends every older session; deleting them too keeps the index and Redis honest.
      const revoked = await sessions.revokeOthers(user.id, req.sessionID);
      await startSession(req, { ...user, credentialEpoch: epoch });
      logger.info({ userId: user.id, revoked }, "password changed");
    },
  };
}
