import type { Store } from "express-session";
import type { Config } from "../config/config.js";
import type { Database } from "../infra/db/database.js";
import type { JobQueue } from "../infra/jobs/queue.js";
import type { Logger } from "../infra/logging/logger.js";
import type { Mailer, MailJob } from "../infra/mail/types.js";
import type { RedisAudits } from "../infra/redis/audit.js";
import type { Redis } from "../infra/redis/redis-client.js";
import type { AdminActions } from "./admin/admin-actions.js";
import type { UserDirectory } from "./admin/user-directory.js";
import type { AccountDeletion } from "./auth/account-deletion.js";
import type { createAccountExport } from "./auth/account-export.js";
import type { AccountRecovery } from "./auth/account-recovery.js";
import type { AccountService } from "./auth/account-service.js";
import type { BeginSignIn } from "./auth/begin-sign-in.js";
import type { DeviceSignIn } from "./auth/device-sign-in.js";
import type { EmailChange } from "./auth/email-change.js";
import type { createPassport } from "./auth/passport.js";
import type { PasswordHasher } from "./auth/password.js";
import type { PersonalTokens } from "./auth/personal-tokens.js";
import type { SignIn } from "./auth/sign-in.js";
import type { UserCache } from "./auth/user-cache.js";
import type { UserRepository } from "./auth/user-repository.js";
import type { Cache } from "./cache/cache.js";
import type { HealthService } from "./health/health-service.js";
import type { Lifecycle } from "./health/lifecycle.js";
import type { Metrics } from "./metrics/metrics.js";
import type { FactorReset } from "./mfa/factor-reset.js";
import type { Passkeys } from "./mfa/passkeys.js";
import type { SecondFactors } from "./mfa/second-factors.js";
import type { OpenAIClient } from "./models/openai-client.js";
import type { ProviderSignIn } from "./oidc/provider-sign-in.js";
import type { ProductRateLimits } from "./ratelimit/policies.js";
import type { SecurityEvents } from "./security/events.js";
import type { LockedAccounts } from "./security/locked-accounts.js";
import type { SignInStats } from "./security/sign-in-stats.js";
import type { UserSessions } from "./session/user-sessions.js";

/** What the runtime opened before any service exists; each part is closed by whoever opened it. */
export interface Infrastructure {
  logger: Logger;
  db: Database;
  /** Absent when no Redis is configured (embedded mode). */
  redis?: Redis;
  /** The cache's own Redis (CACHE_REDIS_URL); absent when the cache shares `redis`. */
  cacheRedis?: Redis;
  /** The two-tier cache, on `cacheRedis` or else `redis`. */
  cache: Cache;
  hasher: PasswordHasher;
  /** Shutdown state set by main.ts; readiness reads it. */
  lifecycle: Lifecycle;
  /** The `mail` job queue: BullMQ on Redis when configured, else this process' memory. */
  mailQueue: JobQueue<MailJob>;
  /** Delivers composed mails (SMTP_URL, else the outbox folder); used by whoever runs the mail jobs. */
  mailer: Mailer;
}

/** Every service the request path uses, each built once. */
export interface Services extends Infrastructure {
  config: Config;
  /** Every user write goes through it, which drops the user's cached copy on every instance. */
  users: UserRepository;
  userCache: UserCache;
  passport: ReturnType<typeof createPassport>;
  /** Absent without OPENAI_API_KEY. */
  openai?: OpenAIClient;
  /** The session store: Redis when configured, else bounded memory. */
  store: Store;
  sessions: UserSessions;
  health: HealthService;
  limits: ProductRateLimits;
  /** The session every way in ends with (sign-in.ts); the account service uses the same one. */
  signIn: SignIn;
  /**
   * Every way in that verified a person calls it instead of `signIn`: it decides whether a second factor
   * is needed now (begin-sign-in.ts).
   */
  beginSignIn: BeginSignIn;
  /** TOTP, recovery codes and the second step of a sign-in. */
  secondFactors: SecondFactors;
  /** Passkeys (WebAuthn): passwordless sign-in and a second factor. */
  passkeys: Passkeys;
  accounts: AccountService;
  /** Forgot password, reset, email verification. */
  recovery: AccountRecovery;
  /** A signed-in user moves the account to another address, confirmed by a link mailed there. */
  emailChange: EmailChange;
  metrics: Metrics;
  /** Started by the runtime; until then each audit runs on demand when its last result is too old. */
  audits: RedisAudits;
  /** The security event log and each user's recent activity. */
  events: SecurityEvents;
  /** Personal access tokens: created by their owners, resolved from the cache. */
  personalTokens: PersonalTokens;
  /** Device sign-in (RFC 8628) for CLIs. */
  deviceSignIn: DeviceSignIn;
  /** "Delete my account" and the admin's delete. */
  deletion: AccountDeletion;
  /** "Download my data". */
  exports: ReturnType<typeof createAccountExport>;
  /** The admin API and console: the user list and what admins do. */
  admin: {
    directory: UserDirectory;
    actions: AdminActions;
    /** Users' second factors: what they have, and the reset. */
    factors: FactorReset;
    signInStats: SignInStats;
    lockedAccounts: LockedAccounts;
    /** Sessions stored now (an estimate on Redis); undefined when it cannot be read in time. */
    sessionCount(): Promise<number | undefined>;
  };
  /** Sign-in with OpenID Connect providers (OIDC_<NAME>_*). */
  oauth: ProviderSignIn;
}
