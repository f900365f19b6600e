import type { Config } from "../../config/config.js";
import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";
import type { SecurityEvents } from "../security/events.js";
import type { AccountContext, DevicePort } from "./account-context.js";
import { type AuthMethod, isMultiFactor } from "./session-auth.js";
import type { SignIn, SignInMethod } from "./sign-in.js";
import type { UserRecord } from "./user-repository.js";

/** A second factor a pending sign-in can be completed with (`POST /auth/mfa/verify`). */
export type SecondFactorMethod = "totp" | "recovery_code" | "passkey";

/** How long a sign-in waits for its second factor. */
export const PENDING_SIGN_IN_MS = 5 * 60_000;

/** The end of a first step: signed in, or waiting for a second factor on this browser. */
export type SignInOutcome =
  | { user: Express.User; mfaRequired?: undefined }
  | { mfaRequired: true; methods: SecondFactorMethod[] };

export interface BeginSignIn {
  /**
   * Every way in that verified a person calls this (password login; a provider's callback, a bearer
   * token's or a device code's exchange alike) instead of `signIn` itself: it decides whether the person
   * needs a second factor now. When MFA is off, `method.amr` already holds two kinds of factor (a
   * passkey with user verification), or the user has no second factor, it signs in (`signIn`, new
   * session id) and resolves `{ user }`; so does a password alone from a browser the user trusted at a
   * second step, with `amr` `["pwd", "trusted_device"]`. Otherwise nobody is signed in: a pending sign-in for `record`
   * (its credential epoch, `method.amr`, 5 minutes) is kept on this browser's session and it resolves
   * `{ mfaRequired: true, methods }`, which `POST /auth/mfa/verify` completes with `amr` plus the
   * factor's. A way in without a browser session (no `pendingSignIn` port) gets the same answer and
   * nothing to complete: such clients need an account without a second factor, or a factor of their own.
   * A disabled account is refused (`invalid_credentials`).
   */
  beginSignIn(record: UserRecord, context: AccountContext, method: SignInMethod): Promise<SignInOutcome>;
  /**
   * The second factors a person authenticated with `amr` must still give before signing in (the same
   * rule as `beginSignIn`); empty when none is needed.
   */
  missingFactors(record: UserRecord, amr: readonly AuthMethod[]): Promise<SecondFactorMethod[]>;
}

const isPasswordOnly = (amr: readonly AuthMethod[]) => amr.length === 1 && amr[0] === "pwd";

/** The one decision "does this verified person need a second factor now?", made next to sign-in. */
export function createBeginSignIn(deps: {
  config: Config;
  signIn: Pick<SignIn, "signIn">;
  /** The user's second factors (empty: none). */
  methodsOf(userId: string): Promise<SecondFactorMethod[]>;
  /** Whether this browser is one `record`'s owner chose to trust (trusted-devices.ts); none when absent. */
  isTrustedDevice?(device: DevicePort | undefined, record: UserRecord): Promise<boolean>;
  events: Pick<SecurityEvents, "record">;
  logger: Logger;
  now?: () => number;
}): BeginSignIn {
  const { config, signIn, methodsOf, logger, now = Date.now } = deps;
  const missingFactors = async (record: UserRecord, amr: readonly AuthMethod[]) =>
    config.mfa.mode === "off" || isMultiFactor(amr) ? [] : methodsOf(record.id);

  return {
    missingFactors,

    async beginSignIn(record, context, method) {
      // Every way in calls this once it has proved who is signing in (a password, a passkey, a provider's
      // verified identity): only that person learns that an admin disabled the account.
      if (record.disabledAt) {
        const provider = method.provider ? { provider: method.provider } : {};
        deps.events.record("login_refused_disabled", { userId: record.id, ...provider });
        throw new HttpError("account_disabled");
      }
      const methods = await missingFactors(record, method.amr);
      if (methods.length === 0) return { user: await signIn.signIn(record, context, method) };
      // Only a password, from a browser its owner trusted at a second step: the session says so in its
      // `amr`, which stays single-factor for forward auth and the admin console.
      if (isPasswordOnly(method.amr) && (await deps.isTrustedDevice?.(context.session.device, record))) {
        const amr: [AuthMethod, ...AuthMethod[]] = [...method.amr, "trusted_device"];
        logger.info({ userId: record.id }, "second factor skipped: trusted device");
        return { user: await signIn.signIn(record, context, { ...method, amr }) };
      }
      context.session.pendingSignIn?.set({
        userId: record.id,
        epoch: record.credentialEpoch,
        amr: method.amr,
        ...(method.provider ? { provider: method.provider } : {}),
        expiresAt: now() + PENDING_SIGN_IN_MS,
      });
      logger.info({ userId: record.id, amr: method.amr }, "first step passed; waiting for a second factor");
      return { mfaRequired: true, methods };
    },
  };
}
