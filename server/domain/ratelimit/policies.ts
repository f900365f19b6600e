import { createHash } from "node:crypto";
import type { Request, RequestHandler } from "express";
import type { Config } from "../../config/config.js";
import { VERIFY_PATH } from "../../config/forward-auth.js";
import type { Logger } from "../../infra/logging/logger.js";
import type { Redis } from "../../infra/redis/redis-client.js";
import { readCookie } from "../../lib/cookies.js";
import type { Metrics } from "../metrics/metrics.js";
import type { LockedAccounts } from "../security/locked-accounts.js";
import { addressKey, clientAddressKey } from "./client-key.js";
import { FailoverRateLimitStore } from "./failover-store.js";
import { MemoryRateLimitStore } from "./memory-store.js";
import { createRateLimiter } from "./rate-limit.js";
import { RedisRateLimitStore } from "./redis-store.js";
import type { RateLimitDecision, RateLimitStore } from "./store.js";

export interface ProductRateLimits {
  /** Every request but /health*, /metrics, the stylesheet and the forward-auth check, per client address. */
  global: RequestHandler;
  /** POST /auth/login and /auth/register, per client address; refundable (see `refundRequest`). */
  login: RequestHandler;
  /**
   * The `login` policy on the password login routes, except that a request carrying a device cookie is
   * counted by the login itself once it verified the cookie: against the device's own budget
   * (`loginKnownDevice`) when valid, else against the address as here (`enforceDeferred`).
   */
  signIn: RequestHandler;
  /** Login attempts from a known device (valid device cookie), per device id, in place of the per-address limit. */
  loginKnownDevice: { enforce(deviceId: string): Promise<void> };
  /** "Forgot password" and "send the verification link again" (API and pages), per client address. */
  recovery: RequestHandler;
  /**
   * Mails asked for one address (normalised email), whoever asks. Past the limit the request is answered
   * as usual and no mail is queued: the answer must not differ between existing and unknown accounts.
   */
  recoveryEmail: {
    /** True when one more mail for `email` fits; never throws for the limit itself. */
    allow(email: string): Promise<boolean>;
  };
  /**
   * New sign-in notices: one per account, device and client address a day, so a client that keeps no
   * device cookie (an API script) does not mail the owner on every login.
   */
  signInNotice: {
    /** True when a notice for this account, device and address was not sent in the last day. */
    allow(userId: string, device: string, ip: string): Promise<boolean>;
  };
  /** Authenticated /api/* requests, per user id. */
  api: RequestHandler;
  /**
   * Admin keys presented per client address (`/metrics*`, `/api/cache/*`, health details): counted before
   * the comparison and given back when right, so only wrong guesses use it up. Counted in each process
   * (no Redis command), so monitoring works through a Redis outage.
   */
  adminKey: { enforce(req: Request): Promise<void>; refund(req: Request): Promise<void> };
  /** Login attempts per account (normalised email), across all addresses. */
  loginAccount: {
    /** Counts one attempt before the password is checked; throws 429 while the account is locked. */
    enforce(email: string): Promise<void>;
    /** A successful login forgets the failures. */
    clear(email: string): Promise<void>;
    /** Gives back the attempt `enforce` counted, when a dependency failure decided its outcome. */
    refund(email: string): Promise<void>;
  };
  /** Login and re-authentication attempts from a known device (valid device cookie), per device id. */
  loginDevice: {
    enforce(deviceId: string): Promise<void>;
    clear(deviceId: string): Promise<void>;
    refund(deviceId: string): Promise<void>;
  };
  /** Second-factor codes per account (user id) from browsers that are not a known device of it. */
  mfaAccount: { enforce(userId: string): Promise<void>; clear(userId: string): Promise<void> };
  /** Second-factor codes per known device (valid device cookie), in place of the per-account limit. */
  mfaDevice: { enforce(deviceId: string): Promise<void>; clear(deviceId: string): Promise<void> };
}

/** Redis (falling back to this process when it is down) when configured, else this process only. */
export function createRateLimitStore(deps: {
  config: Config;
  redis?: Redis;
  logger: Logger;
}): RateLimitStore {
  const { config, redis, logger } = deps;
  const local = new MemoryRateLimitStore({ maxKeys: config.rateLimit.memoryMaxKeys });
  // Without Redis sessions are per process too, so one instance is the only sensible deployment.
  if (!redis) return local;
  return new FailoverRateLimitStore({
    primary: new RedisRateLimitStore(redis),
    fallback: local,
    isAvailable: () => redis.status === "ready",
    instances: config.rateLimit.instances * config.workers, // every worker limits on its own
    logger,
  });
}

const US_PER_S = 1_000_000;

/** µs until the subject's next attempt fits (0: it fits now), from the decision on its last one (GCRA). */
export function nextAttemptInUs(decision: RateLimitDecision, windowUs: number): number {
  if (!decision.allowed) return decision.retryAfterUs;
  if (decision.remaining > 0) return 0;
  const interval = Math.ceil(windowUs / decision.limit);
  return Math.max(0, decision.resetUs - (decision.limit - 1) * interval);
}

/** The overview's count of locked accounts is a convenience: its failure never fails a login. */
const noted = (done: Promise<void>) => done.catch(() => undefined);

/** One new sign-in notice per account, device and address a day (a product rule, not a setting). */
const SIGN_IN_NOTICE = { limit: 1, windowSeconds: 86_400 };

/** Emails are hashed in keys: no address in Redis, and a bounded key length. */
function accountSubject(email: string): string {
  return createHash("sha256").update(email).digest("base64url").slice(0, 22);
}

/** The product's four policies, from config. */
export function createProductRateLimits(deps: {
  config: Config;
  logger: Logger;
  store: RateLimitStore;
  metrics?: Pick<Metrics, "rateLimitRejected">;
  /** Told when an account's `login-account` limit is used up and when it is cleared (the admin overview). */
  locked?: LockedAccounts;
}): ProductRateLimits {
  const { config, logger, store, metrics, locked } = deps;
  const settings = config.rateLimit;
  const limiter = createRateLimiter({
    store,
    keyPrefix: config.keyPrefix,
    logger,
    dryRun: settings.dryRun,
    onReject: metrics ? (policy) => metrics.rateLimitRejected(policy) : undefined,
  });
  const byAddress = (req: Parameters<typeof clientAddressKey>[0]) =>
    clientAddressKey(req, settings.ipv6PrefixBits);

  const account = limiter.policy({ name: "login-account", ...settings.loginAccount });
  const knownDevice = limiter.policy({ name: "login-known-device", ...settings.loginKnownDevice });
  const deviceCookieName = config.session.deviceCookieName;
  const login = limiter.deferrable({
    name: "login",
    ...settings.login,
    key: byAddress,
    refundable: true,
    defer: (req) => readCookie(req.headers.cookie, deviceCookieName) !== undefined,
  });
  const device = limiter.policy({ name: "login-device", ...settings.loginDevice });
  const recoveryEmail = limiter.policy({ name: "recovery-email", ...settings.recoveryEmail });
  const signInNotice = limiter.policy({ name: "sign-in-notice", ...SIGN_IN_NOTICE });
  const mfaAccount = limiter.policy({ name: "mfa-account", ...config.mfa.account });
  const mfaDevice = limiter.policy({ name: "mfa-device", ...config.mfa.device });
  // In this process' memory: /metrics and the health details must answer while Redis is down or frozen,
  // and a per-instance count still bounds guessing (the limit times the instances and workers).
  const adminKey = createRateLimiter({
    store: new MemoryRateLimitStore({ maxKeys: settings.memoryMaxKeys }),
    keyPrefix: config.keyPrefix,
    logger,
    dryRun: settings.dryRun,
    onReject: metrics ? (policy) => metrics.rateLimitRejected(policy) : undefined,
  }).policy({ name: "admin-key", ...settings.adminKey });
  return {
    global: limiter.rateLimit({
      name: "global",
      ...settings.global,
      key: byAddress,
      skip: (req) => req.path === "/health" || req.path.startsWith("/health/") || req.path === VERIFY_PATH,
    }),
    login: login.now,
    signIn: login.deferring,
    loginKnownDevice: { enforce: (deviceId) => knownDevice.enforce(deviceId) },
    recovery: limiter.rateLimit({ name: "recovery", ...settings.recovery, key: byAddress }),
    signInNotice: {
      allow: (userId, device, ip) =>
        signInNotice
          .enforce(accountSubject(`${userId}\n${device}\n${addressKey(ip, settings.ipv6PrefixBits)}`))
          .then(
            () => true,
            (err: unknown) => {
              if ((err as { status?: number }).status === 429) return false;
              throw err;
            },
          ),
    },
    recoveryEmail: {
      allow: (email) =>
        recoveryEmail.enforce(accountSubject(email)).then(
          () => true,
          (err: unknown) => {
            if ((err as { status?: number }).status === 429) return false;
            throw err;
          },
        ),
    },
    api: limiter.rateLimit({ name: "api", ...settings.api, key: (req) => req.user?.id }),
    adminKey: {
      enforce: (req) => adminKey.enforce(byAddress(req)),
      refund: (req) => adminKey.refund(byAddress(req)),
    },
    loginAccount: {
      enforce: (email) => {
        const subject = accountSubject(email);
        if (!locked || settings.dryRun) return account.enforce(subject);
        return account.enforce(subject, async (decision) => {
          const waitUs = nextAttemptInUs(decision, account.windowSeconds * US_PER_S);
          if (waitUs > 0) await noted(locked.lock(subject, Date.now() + Math.ceil(waitUs / 1000)));
        });
      },
      // Both at once: a successful login waits for one Redis round trip, not two.
      clear: async (email) => {
        const subject = accountSubject(email);
        await Promise.all([account.reset(subject), locked && noted(locked.unlock(subject))]);
      },
      // An allowed attempt given back leaves at least one attempt open: not locked.
      refund: async (email) => {
        const subject = accountSubject(email);
        await Promise.all([account.refund(subject), locked && noted(locked.unlock(subject))]);
      },
    },
    loginDevice: {
      enforce: (deviceId) => device.enforce(deviceId),
      clear: (deviceId) => device.reset(deviceId),
      refund: (deviceId) => device.refund(deviceId),
    },
    mfaAccount: {
      enforce: (userId) => mfaAccount.enforce(userId),
      clear: (userId) => mfaAccount.reset(userId),
    },
    mfaDevice: {
      enforce: (deviceId) => mfaDevice.enforce(deviceId),
      clear: (deviceId) => mfaDevice.reset(deviceId),
    },
  };
}
