import { normalizeEmail } from "../../../shared/validation.js";
import type { Logger } from "../../infra/logging/logger.js";
import type { ProductRateLimits } from "../ratelimit/policies.js";
import type { AccountContext, DevicePort } from "./account-context.js";
import { isDependencyFailure } from "./dependency-failure.js";
import type { DeviceCookies, DeviceOwner } from "./device-cookie.js";

/** The limit a failed password check counts against: a known device's own, or the account's. */
export interface Lockout {
  /** The browser's device id when it holds a valid device cookie of the account. */
  readonly deviceId?: string;
  enforce(): Promise<void>;
  clear(): Promise<void>;
  refund(): Promise<void>;
}

export interface Lockouts {
  /** The lockout a password check for `email` from this browser counts against. */
  lockoutFor(email: string, owner: DeviceOwner | undefined, device?: DevicePort): Lockout;
  /**
   * Runs the part of a login attempt that can fail for want of a dependency; such a failure gives back the
   * attempt `lockout.enforce` counted, so an outage locks nobody out. Counting first and refunding after
   * keeps concurrent guesses from racing past the limit.
   */
  sparingLockout<T>(lockout: Lockout, attempt: () => Promise<T>): Promise<T>;
  /**
   * The per-client budget of a login: a known device's own (`login-known-device`), so an address flooded
   * with wrong logins (or a spoofed one) never stops the owner's browser; everyone else the per-address
   * `login` limit, which the route left to this point for a request with an unverified device cookie.
   */
  admitClient(lockout: Lockout, context: Pick<AccountContext, "enforceAddress">): Promise<void>;
}

/** Per-account and per-device lockout of password checks (OWASP device cookies). */
export function createLockouts(deps: {
  limits: Pick<ProductRateLimits, "loginAccount" | "loginDevice"> &
    Partial<Pick<ProductRateLimits, "loginKnownDevice">>;
  devices: DeviceCookies;
  logger: Logger;
}): Lockouts {
  const { limits, devices, logger } = deps;

  /**
   * Failed checks from a browser holding a valid device cookie of this user count against that device
   * only (`login-device`); every other attempt counts against the account (`login-account`). So failures
   * from untrusted clients can lock the account for untrusted clients, never for the owner's known devices.
   */
  const lockoutFor = (email: string, owner: DeviceOwner | undefined, device?: DevicePort): Lockout => {
    const deviceId = owner ? devices.verify(device?.value, owner) : undefined;
    if (deviceId) {
      return {
        deviceId,
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

  const admitClient = async (lockout: Lockout, context: Pick<AccountContext, "enforceAddress">) => {
    if (lockout.deviceId && limits.loginKnownDevice) return limits.loginKnownDevice.enforce(lockout.deviceId);
    await context.enforceAddress();
  };

  return { lockoutFor, sparingLockout, admitClient };
}
