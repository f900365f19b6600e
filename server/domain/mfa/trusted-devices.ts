import type { Logger } from "../../infra/logging/logger.js";
import type { DevicePort } from "../auth/account-context.js";
import type { DeviceCookies, DeviceOwner } from "../auth/device-cookie.js";
import type { MfaRepository } from "./mfa-repository.js";

/** Browsers whose owner chose, at a second step, to skip the second factor there for a while. */
export interface TrustedDevices {
  /** Whether this browser's device cookie carries a trust of `owner` that still holds. */
  isTrusted(device: DevicePort | undefined, owner: DeviceOwner): Promise<boolean>;
  /**
   * Marks this browser trusted by `owner` from now, once the second factor was given; nothing when the
   * choice is off (MFA_TRUSTED_DEVICE_DAYS=0) or there is no browser to hold a cookie.
   */
  trust(device: DevicePort | undefined, owner: DeviceOwner): Promise<void>;
}

/**
 * Trust rides on the device cookie (device-cookie.ts): it ends with the cookie's epochs (password change,
 * "sign out everywhere"), with the user's factor epoch (any change to a second factor) and after
 * `maxAgeSeconds` from the choice.
 */
export function createTrustedDevices(deps: {
  devices: DeviceCookies;
  repository: Pick<MfaRepository, "factorEpochOf">;
  /** MFA_TRUSTED_DEVICE_DAYS in seconds; 0 turns trust off. */
  maxAgeSeconds: number;
  logger: Logger;
}): TrustedDevices {
  const { devices, repository, maxAgeSeconds, logger } = deps;
  return {
    async isTrusted(device, owner) {
      // No query for a browser with no cookie of this user.
      if (maxAgeSeconds <= 0 || devices.verify(device?.value, owner) === undefined) return false;
      return devices.isTrusted(device?.value, owner, await repository.factorEpochOf(owner.id), maxAgeSeconds);
    },

    async trust(device, owner) {
      if (maxAgeSeconds <= 0 || !device) return;
      device.set(devices.trust(device.value, owner, await repository.factorEpochOf(owner.id)));
      logger.info({ userId: owner.id }, "device trusted to skip the second factor");
    },
  };
}
