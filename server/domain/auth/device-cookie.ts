import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { UserRecord } from "./user-repository.js";

/** The user a device cookie is bound to, with the epochs that void it when they move. */
export type DeviceOwner = Pick<UserRecord, "id" | "credentialEpoch" | "deviceEpoch">;

export interface DeviceCookies {
  /** The device id of `value` when it is a valid, unexpired cookie of `owner` now; else undefined. */
  verify(value: string | undefined, owner: DeviceOwner): string | undefined;
  /** A cookie value for `owner`, for the device `deviceId` (a new device when absent). */
  issue(owner: DeviceOwner, deviceId?: string): string;
}

const VERSION = "d1";
const DEVICE_ID_BYTES = 16;
const FIELD = /^[0-9A-Za-z_-]{1,64}$/;

/**
 * Device cookies (OWASP "device cookies" against slow brute force): `d1.<userId>.<deviceId>.<issuedAt s>.<mac>`,
 * the MAC an HMAC-SHA256 with the session secret over those fields and the user's credential and device
 * epochs. Nothing is stored: a password change (credential epoch) or "sign out everywhere" (device epoch)
 * voids every cookie issued before it, durably, because the epochs live in the users table. The first
 * secret signs, all verify (rotation).
 */
export function createDeviceCookies(deps: { secrets: string[]; ttlSeconds: number }): DeviceCookies {
  const { secrets, ttlSeconds } = deps;

  const mac = (secret: string, owner: DeviceOwner, deviceId: string, issuedAt: number) =>
    createHmac("sha256", secret)
      .update(
        `device-cookie|${owner.id}|${deviceId}|${issuedAt}|${owner.credentialEpoch}|${owner.deviceEpoch}`,
      )
      .digest();

  return {
    verify(value, owner) {
      if (!value) return undefined;
      const parts = value.split(".");
      if (parts.length !== 5 || parts[0] !== VERSION) return undefined;
      const [, userId, deviceId, issued, given] = parts as [string, string, string, string, string];
      if (userId !== owner.id || !FIELD.test(deviceId) || !/^\d{1,12}$/.test(issued)) return undefined;
      const issuedAt = Number(issued);
      const now = Math.floor(Date.now() / 1000);
      if (issuedAt > now + 60 || now - issuedAt > ttlSeconds) return undefined;
      const actual = Buffer.from(given, "base64url");
      for (const secret of secrets) {
        const expected = mac(secret, owner, deviceId, issuedAt);
        if (actual.length === expected.length && timingSafeEqual(actual, expected)) return deviceId;
      }
      return undefined;
    },

    issue(owner, deviceId = randomBytes(DEVICE_ID_BYTES).toString("base64url")) {
      const issuedAt = Math.floor(Date.now() / 1000);
      const signature = mac(secrets[0] as string, owner, deviceId, issuedAt).toString("base64url");
      return `${VERSION}.${owner.id}.${deviceId}.${issuedAt}.${signature}`;
    },
  };
}
