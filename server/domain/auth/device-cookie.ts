import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { UserRecord } from "./user-repository.js";

/** The user a device cookie is bound to, with the epochs that void it when they move. */
export type DeviceOwner = Pick<UserRecord, "id" | "credentialEpoch" | "deviceEpoch">;

export interface DeviceCookies {
  /** The device id of `value` when it is a valid, unexpired cookie of `owner` now; else undefined. */
  verify(value: string | undefined, owner: DeviceOwner): string | undefined;
  /**
   * A cookie value for `owner`, for the device `deviceId` (a new device when absent). When `previous` is
   * the cookie of that same device, the trust it carries is kept as it was (same start, same checks).
   */
  issue(owner: DeviceOwner, deviceId?: string, previous?: string): string;
  /**
   * A cookie value for `owner` that also marks this device trusted from now (`trust`), bound to the
   * user's factor epoch: a change to the user's second factors voids the trust.
   */
  trust(value: string | undefined, owner: DeviceOwner, factorEpoch: number): string;
  /**
   * Whether `value` is a valid cookie of `owner` whose trust started less than `maxAgeSeconds` ago under
   * the factor epoch `factorEpoch`.
   */
  isTrusted(
    value: string | undefined,
    owner: DeviceOwner,
    factorEpoch: number,
    maxAgeSeconds: number,
  ): boolean;
}

const VERSION = "d1";
const DEVICE_ID_BYTES = 16;
const FIELD = /^[0-9A-Za-z_-]{1,64}$/;
const SECONDS = /^\d{1,12}$/;

/**
 * Device cookies (OWASP "device cookies" against slow brute force): `d1.<userId>.<deviceId>.<issuedAt s>.<mac>`,
 * the MAC an HMAC-SHA256 with the session secret over those fields and the user's credential and device
 * epochs. Nothing is stored: a password change (credential epoch) or "sign out everywhere" (device epoch)
 * voids every cookie issued before it, durably, because the epochs live in the users table. The first
 * secret signs, all verify (rotation).
 *
 * A trusted device ("skip the second factor on this browser") adds `.<trustedAt s>.<trustMac>`, a second
 * HMAC over the user, the device, `trustedAt`, both epochs and the user's factor epoch, which every change
 * to a second factor moves. It is independent of `issuedAt`, so a later login renews the cookie and keeps
 * the trust as it was, never extending it.
 */
export function createDeviceCookies(deps: { secrets: string[]; ttlSeconds: number }): DeviceCookies {
  const { secrets, ttlSeconds } = deps;

  const mac = (secret: string, owner: DeviceOwner, deviceId: string, issuedAt: number) =>
    createHmac("sha256", secret)
      .update(
        `device-cookie|${owner.id}|${deviceId}|${issuedAt}|${owner.credentialEpoch}|${owner.deviceEpoch}`,
      )
      .digest();

  const trustMac = (
    secret: string,
    owner: DeviceOwner,
    deviceId: string,
    trustedAt: number,
    factorEpoch: number,
  ) =>
    createHmac("sha256", secret)
      .update(
        `device-trust|${owner.id}|${deviceId}|${trustedAt}|${owner.credentialEpoch}|${owner.deviceEpoch}|${factorEpoch}`,
      )
      .digest();

  const matches = (given: string, expected: (secret: string) => Buffer) => {
    const actual = Buffer.from(given, "base64url");
    return secrets.some((secret) => {
      const wanted = expected(secret);
      return actual.length === wanted.length && timingSafeEqual(actual, wanted);
    });
  };

  const nowSeconds = () => Math.floor(Date.now() / 1000);

  const verify = (value: string | undefined, owner: DeviceOwner) => {
    if (!value) return undefined;
    const parts = value.split(".");
    if ((parts.length !== 5 && parts.length !== 7) || parts[0] !== VERSION) return undefined;
    const [, userId, deviceId, issued, given] = parts as [string, string, string, string, string];
    if (userId !== owner.id || !FIELD.test(deviceId) || !SECONDS.test(issued)) return undefined;
    const issuedAt = Number(issued);
    const now = nowSeconds();
    if (issuedAt > now + 60 || now - issuedAt > ttlSeconds) return undefined;
    return matches(given, (secret) => mac(secret, owner, deviceId, issuedAt)) ? deviceId : undefined;
  };

  /** The trust part of a cookie (`<trustedAt>.<trustMac>`), unchecked; undefined when it has none. */
  const trustPart = (value: string | undefined) => {
    const parts = value?.split(".");
    if (parts?.length !== 7) return undefined;
    const [trusted, given] = parts.slice(5) as [string, string];
    return SECONDS.test(trusted) && FIELD.test(given) ? { trustedAt: Number(trusted), given } : undefined;
  };

  const issue = (
    owner: DeviceOwner,
    deviceId: string = randomBytes(DEVICE_ID_BYTES).toString("base64url"),
  ) => {
    const issuedAt = nowSeconds();
    const signature = mac(secrets[0] as string, owner, deviceId, issuedAt).toString("base64url");
    return `${VERSION}.${owner.id}.${deviceId}.${issuedAt}.${signature}`;
  };

  return {
    verify,

    issue(owner, deviceId, previous) {
      const cookie = issue(owner, deviceId);
      const kept =
        deviceId !== undefined && verify(previous, owner) === deviceId ? trustPart(previous) : undefined;
      return kept ? `${cookie}.${kept.trustedAt}.${kept.given}` : cookie;
    },

    trust(value, owner, factorEpoch) {
      const deviceId = verify(value, owner) ?? randomBytes(DEVICE_ID_BYTES).toString("base64url");
      const trustedAt = nowSeconds();
      const signature = trustMac(secrets[0] as string, owner, deviceId, trustedAt, factorEpoch);
      return `${issue(owner, deviceId)}.${trustedAt}.${signature.toString("base64url")}`;
    },

    isTrusted(value, owner, factorEpoch, maxAgeSeconds) {
      const deviceId = verify(value, owner);
      const part = trustPart(value);
      if (!deviceId || !part || maxAgeSeconds <= 0) return false;
      const now = nowSeconds();
      if (part.trustedAt > now + 60 || now - part.trustedAt > maxAgeSeconds) return false;
      return matches(part.given, (secret) => trustMac(secret, owner, deviceId, part.trustedAt, factorEpoch));
    },
  };
}
