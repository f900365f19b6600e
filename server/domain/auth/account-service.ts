import type { Credentials, PasswordChange } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import type { Logger } from "../../infra/logging/logger.js";
import type { Metrics } from "../metrics/metrics.js";
import type { ProductRateLimits } from "../ratelimit/policies.js";
import { NO_SECURITY_EVENTS, type SecurityEvents } from "../security/events.js";
import type { SessionView, UserSessions } from "../session/user-sessions.js";
import type { AccountContext, SessionPort } from "./account-context.js";
import type { MailRequests } from "./account-recovery.js";
import { createAccountSessions } from "./account-sessions.js";
import { type BeginSignIn, createBeginSignIn, type SignInOutcome } from "./begin-sign-in.js";
import { createDeviceCookies, type DeviceCookies } from "./device-cookie.js";
import { createLockouts } from "./lockout.js";
import { createLogin } from "./login.js";
import type { PasswordHasher } from "./password.js";
import { createPasswordChange } from "./password-change.js";
import { createRegistration } from "./registration.js";
import { createSignIn, type SignIn } from "./sign-in.js";
import { createStepUp, type StepUp } from "./step-up.js";
import type { UserRepository } from "./user-repository.js";

/**
 * What a person can do to their account; shared by the JSON API and the HTML pages, which validate the
 * input (shared/validation.ts) and translate between HTTP and these calls. Failures are catalog errors.
 */
export interface AccountService extends StepUp {
  /**
   * Creates the account and logs it in. With EMAIL_VERIFICATION=required it logs nobody in and resolves
   * undefined alike for a new and a taken address (the verification link, or a "someone tried to sign
   * up" mail to the owner, goes out from the worker). Repeating a registration (same email and password, within an
   * hour) logs in to the account the first one created: an attempt that answered 503 after the row was
   * written can be retried. The repeat counts against `login-account` like a login.
   */
  register(input: Credentials, context: AccountContext): Promise<Express.User | undefined>;
  /**
   * The password login: signed in (`{ user }`), or, for a user with a second factor, a pending sign-in on
   * this browser (`{ mfaRequired, methods }`, see begin-sign-in.ts).
   */
  login(input: Credentials, context: AccountContext): Promise<SignInOutcome>;
  logout(session: SessionPort): Promise<void>;
  listSessions(session: SessionPort): Promise<SessionView[]>;
  /** Ends one of the user's sessions by public id (404 when unknown); ending the current one logs out. */
  revokeSession(session: SessionPort, publicId: string): Promise<void>;
  revokeOtherSessions(session: SessionPort): Promise<number>;
  /** Changes the password, ends every other session and gives the current one a new id. */
  changePassword(input: PasswordChange, context: AccountContext): Promise<void>;
}

/**
 * Registration (registration.ts), login (login.ts), the user's sessions (account-sessions.ts), password
 * changes (password-change.ts) and step-up (step-up.ts), each ending in the one sign-in (sign-in.ts): the rules live there, once.
 */
export function createAccountService(deps: {
  config: Config;
  users: UserRepository;
  hasher: PasswordHasher;
  sessions: UserSessions;
  logger: Logger;
  limits: Pick<ProductRateLimits, "loginAccount" | "loginDevice"> &
    Partial<Pick<ProductRateLimits, "signInNotice" | "loginKnownDevice">>;
  /** Default: signed with SESSION_SECRET, valid DEVICE_COOKIE_TTL_DAYS. */
  devices?: DeviceCookies;
  /** Default: one built from these dependencies. */
  signIn?: SignIn;
  /** Whether a verified person needs a second factor. Default: nobody does. */
  beginSignIn?: BeginSignIn;
  metrics?: Pick<Metrics, "loginsTotal" | "loginFailuresTotal" | "logoutsTotal">;
  events?: Pick<SecurityEvents, "record">;
  /** Verification links and sign-in notices; without it none are sent. */
  mail?: MailRequests;
  /** Per-address mail limit for "someone tried to sign up" mails. */
  recoveryEmail?: ProductRateLimits["recoveryEmail"];
}): AccountService {
  const { config, logger, limits } = deps;
  const devices = deps.devices ?? defaultDeviceCookies(config);
  const events = deps.events ?? NO_SECURITY_EVENTS;
  const signIn = deps.signIn ?? createSignIn({ ...deps, devices, events });
  const lockouts = createLockouts({ limits, devices, logger });
  const beginSignIn =
    deps.beginSignIn ?? createBeginSignIn({ config, signIn, events, logger, methodsOf: async () => [] });
  const parts = { ...deps, devices, events, signIn, beginSignIn, lockouts };
  return {
    ...createRegistration(parts),
    ...createLogin(parts),
    ...createAccountSessions(parts),
    ...createPasswordChange(parts),
    ...createStepUp(parts),
  };
}

/** Device cookies signed with SESSION_SECRET (the first signs, all verify), valid DEVICE_COOKIE_TTL_DAYS. */
function defaultDeviceCookies(config: Config): DeviceCookies {
  return createDeviceCookies({
    secrets: config.session.secrets,
    ttlSeconds: config.session.deviceCookieTtlSeconds,
  });
}
