import type { AuthenticationResponseJSON } from "@simplewebauthn/server";
import type { Logger } from "../../infra/logging/logger.js";
import type { SecondFactorChange } from "../../infra/mail/types.js";
import { HttpError } from "../../lib/errors.js";
import type { AccountContext, PendingSignIn, SessionPort } from "../auth/account-context.js";
import type { MailRequests } from "../auth/account-recovery.js";
import { requireUser } from "../auth/account-sessions.js";
import type { SecondFactorMethod } from "../auth/begin-sign-in.js";
import type { DeviceCookies } from "../auth/device-cookie.js";
import type { AuthMethod } from "../auth/session-auth.js";
import type { SignIn } from "../auth/sign-in.js";
import type { StepUp } from "../auth/step-up.js";
import type { UserRecord, UserRepository } from "../auth/user-repository.js";
import type { ProductRateLimits } from "../ratelimit/policies.js";
import type { SecurityEvents } from "../security/events.js";
import type { MfaRepository } from "./mfa-repository.js";
import { newRecoveryCodes, recoveryCodeHash } from "./recovery-codes.js";
import type { SecretBox } from "./secret-box.js";
import { totp } from "./totp.js";
import type { TrustedDevices } from "./trusted-devices.js";

/** What the account page and `GET /auth/mfa` show. */
export interface SecondFactorStatus {
  totp: boolean;
  recoveryCodesLeft: number;
}

/** A second factor as given: a TOTP code, a recovery code, or a passkey's assertion (WebAuthn JSON). */
export type FactorInput =
  | { code: string }
  | { recoveryCode: string }
  | { passkey: AuthenticationResponseJSON };

export interface SecondFactors {
  /** The factors a pending sign-in of `userId` can be completed with; empty when the user has none. */
  methodsOf(userId: string): Promise<SecondFactorMethod[]>;
  status(session: SessionPort): Promise<SecondFactorStatus>;
  /**
   * Starts TOTP (step-up): a new secret and its `otpauth://` URI, stored sealed but off until a first
   * code confirms it. Refused (`mfa_already_enabled`) while TOTP is on.
   */
  setupTotp(session: SessionPort): Promise<{ secret: string; uri: string }>;
  /** The secret a setup started and no code confirmed yet (step-up); undefined when there is none. */
  pendingTotp(session: SessionPort): Promise<{ secret: string; uri: string } | undefined>;
  /** A first code turns TOTP on; answers the 10 recovery codes, shown this once. */
  confirmTotp(session: SessionPort, code: string): Promise<{ recoveryCodes: string[] }>;
  /** Turns TOTP off and drops the recovery codes (step-up). */
  disableTotp(session: SessionPort): Promise<void>;
  /** Ten new recovery codes in place of the old ones (step-up). */
  regenerateRecoveryCodes(session: SessionPort): Promise<{ recoveryCodes: string[] }>;
  /**
   * Completes this browser's pending sign-in with a factor (a new session, `amr` plus `otp`, or `hwk`
   * for a passkey), marking the browser trusted when `trustDevice` asks it (trusted-devices.ts); or, on a
   * signed-in session, counts as a recent authentication with that factor (step-up). Wrong factors count
   * against `mfa-device` from a known device of the account, else `mfa-account`.
   */
  verify(
    input: FactorInput,
    context: AccountContext,
    options?: { trustDevice?: boolean },
  ): Promise<Express.User>;
}

/** TOTP (RFC 6238) and recovery codes, and the second step of a sign-in. */
export function createSecondFactors(deps: {
  repository: MfaRepository;
  users: UserRepository;
  box: SecretBox;
  signIn: Pick<SignIn, "signIn">;
  stepUp: Pick<StepUp, "requireRecentAuthentication">;
  devices: DeviceCookies;
  limits: Pick<ProductRateLimits, "mfaAccount" | "mfaDevice">;
  events: Pick<SecurityEvents, "record">;
  logger: Logger;
  /** Mails the owner a notice of every change to a factor. */
  mail?: Pick<MailRequests, "queueQuietly">;
  issuer: string;
  /** The user's passkeys, each a second factor too. */
  passkeyCount?: (userId: string) => Promise<number>;
  /** Checks a passkey assertion of `userId` (passkeys.ts); a passkey is refused when absent. */
  verifyPasskey?: (userId: string, response: AuthenticationResponseJSON) => Promise<boolean>;
  trustedDevices?: Pick<TrustedDevices, "trust">;
  now?: () => number;
}): SecondFactors {
  const { repository, users, box, signIn, stepUp, devices, limits, events, logger, issuer } = deps;
  const now = deps.now ?? Date.now;
  const notify = (userId: string, change: SecondFactorChange) =>
    deps.mail?.queueQuietly({ kind: "second-factor-changed", userId, change });

  const openSecret = (userId: string, sealed: string) => {
    const opened = box.open(sealed, userId);
    // A key dropped from MFA_ENCRYPTION_KEY too early: the factor cannot be checked, and saying so is safe.
    if (!opened) throw new HttpError("internal_error", { message: "The second factor cannot be read" });
    if (opened.stale) void repository.reseal(userId, box.seal(opened.plain, userId)).catch(() => undefined);
    return opened.plain;
  };

  const confirmedTotp = async (userId: string) => {
    const row = await repository.totpOf(userId);
    return row?.confirmedAt ? row : undefined;
  };

  /** The limit wrong factors of `owner` from this browser count against (as for passwords, lockout.ts). */
  const limitFor = (owner: UserRecord, context: AccountContext) => {
    const deviceId = devices.verify(context.session.device?.value, owner);
    return deviceId
      ? { enforce: () => limits.mfaDevice.enforce(deviceId), clear: () => limits.mfaDevice.clear(deviceId) }
      : {
          enforce: () => limits.mfaAccount.enforce(owner.id),
          clear: () => limits.mfaAccount.clear(owner.id),
        };
  };

  /** Checks the factor for `owner`; the method it proved, or undefined when wrong or already used. */
  const check = async (owner: UserRecord, input: FactorInput): Promise<AuthMethod | undefined> => {
    if ("passkey" in input) {
      return deps.verifyPasskey && (await deps.verifyPasskey(owner.id, input.passkey)) ? "hwk" : undefined;
    }
    if ("recoveryCode" in input) {
      const hash = recoveryCodeHash(input.recoveryCode);
      if (!hash || !(await repository.useRecoveryCode(owner.id, hash))) return undefined;
      events.record("recovery_code_used", { userId: owner.id });
      notify(owner.id, "recovery-code-used");
      logger.info({ userId: owner.id }, "recovery code used");
      return "otp";
    }
    const row = await confirmedTotp(owner.id);
    if (!row) return undefined;
    const secret = openSecret(owner.id, row.secretSealed);
    const step = await totp.verify(secret, input.code, now(), row.lastStep ?? undefined);
    // The step is recorded only if no other request used it first: a code is accepted once.
    if (step === undefined || !(await repository.useStep(owner.id, step))) return undefined;
    return "otp";
  };

  const pendingOf = (context: AccountContext): PendingSignIn | undefined => {
    const pending = context.session.pendingSignIn?.value;
    if (!pending) return undefined;
    if (pending.expiresAt > now()) return pending;
    context.session.pendingSignIn?.set(undefined);
    return undefined;
  };

  const issueCodes = () => {
    const recoveryCodes = newRecoveryCodes();
    return { recoveryCodes, hashes: recoveryCodes.map((c) => recoveryCodeHash(c) as string) };
  };

  return {
    async methodsOf(userId) {
      const methods: SecondFactorMethod[] = [];
      if (await confirmedTotp(userId)) {
        methods.push("totp");
        if ((await repository.recoveryCodesLeft(userId)) > 0) methods.push("recovery_code");
      }
      if (deps.passkeyCount && (await deps.passkeyCount(userId)) > 0) methods.push("passkey");
      return methods;
    },

    async status(session) {
      const user = requireUser(session);
      const enabled = (await confirmedTotp(user.id)) !== undefined;
      return { totp: enabled, recoveryCodesLeft: enabled ? await repository.recoveryCodesLeft(user.id) : 0 };
    },

    async setupTotp(session) {
      stepUp.requireRecentAuthentication(session);
      const user = requireUser(session);
      const secret = totp.newSecret();
      if (!(await repository.startTotp(user.id, box.seal(secret, user.id)))) {
        throw new HttpError("mfa_already_enabled");
      }
      return { secret, uri: totp.uri(secret, issuer, user.email) };
    },

    async pendingTotp(session) {
      stepUp.requireRecentAuthentication(session);
      const user = requireUser(session);
      const row = await repository.totpOf(user.id);
      if (!row || row.confirmedAt) return undefined;
      const secret = openSecret(user.id, row.secretSealed);
      return { secret, uri: totp.uri(secret, issuer, user.email) };
    },

    async confirmTotp(session, code) {
      stepUp.requireRecentAuthentication(session);
      const user = requireUser(session);
      const row = await repository.totpOf(user.id);
      if (!row) throw new HttpError("mfa_not_enabled");
      if (row.confirmedAt) throw new HttpError("mfa_already_enabled");
      const step = await totp.verify(openSecret(user.id, row.secretSealed), code, now());
      if (step === undefined) throw new HttpError("invalid_mfa_code");
      const { recoveryCodes, hashes } = issueCodes();
      if (!(await repository.confirmTotp(user.id, step, hashes))) throw new HttpError("mfa_already_enabled");
      // The code just given proved the factor: the session is now authenticated with it too.
      session.reauthenticated(["otp"]);
      events.record("mfa_enabled", { userId: user.id });
      notify(user.id, "totp-added");
      logger.info({ userId: user.id }, "TOTP turned on");
      return { recoveryCodes };
    },

    async disableTotp(session) {
      stepUp.requireRecentAuthentication(session);
      const user = requireUser(session);
      if (!(await repository.removeTotp(user.id))) throw new HttpError("mfa_not_enabled");
      events.record("mfa_disabled", { userId: user.id });
      notify(user.id, "totp-removed");
      logger.info({ userId: user.id }, "TOTP turned off");
    },

    async regenerateRecoveryCodes(session) {
      stepUp.requireRecentAuthentication(session);
      const user = requireUser(session);
      if (!(await confirmedTotp(user.id))) throw new HttpError("mfa_not_enabled");
      const { recoveryCodes, hashes } = issueCodes();
      await repository.replaceRecoveryCodes(user.id, hashes);
      events.record("recovery_codes_regenerated", { userId: user.id });
      notify(user.id, "recovery-codes-regenerated");
      return { recoveryCodes };
    },

    async verify(input, context, options = {}) {
      const pending = pendingOf(context);
      const userId = pending?.userId ?? context.session.user?.id;
      if (!userId) {
        throw new HttpError("unauthenticated", {
          message: "Sign in with your password first; it may have expired",
        });
      }
      const record = await users.findById(userId);
      // A password change or a disabled account since the first step voids the pending sign-in.
      if (!record || record.disabledAt || (pending && record.credentialEpoch !== pending.epoch)) {
        context.session.pendingSignIn?.set(undefined);
        throw new HttpError("unauthenticated", {
          message: "Sign in with your password first; it may have expired",
        });
      }
      const limit = limitFor(record, context);
      await limit.enforce();
      const method = await check(record, input);
      if (!method) {
        events.record("mfa_failed", { userId: record.id });
        throw new HttpError("passkey" in input ? "passkey_refused" : "invalid_mfa_code");
      }
      await limit.clear();
      if (!pending) {
        context.session.reauthenticated([method]);
        events.record("reauthenticated", { userId: record.id });
        return requireUser(context.session);
      }
      context.session.pendingSignIn?.set(undefined);
      const user = await signIn.signIn(record, context, {
        amr: [...new Set<AuthMethod>([...pending.amr, method])] as [AuthMethod, ...AuthMethod[]],
        ...(pending.provider ? { provider: pending.provider } : {}),
      });
      if (options.trustDevice) await deps.trustedDevices?.trust(context.session.device, record);
      return user;
    },
  };
}
