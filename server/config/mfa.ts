import { createHash } from "node:crypto";
import { z } from "zod";
import { int, nonEmpty, type Report, secret, type Values } from "./variables.js";

export const MFA_VARIABLES = {
  MFA: z.enum(["off", "optional", "required"]).default("optional"), // second factors: off, offered, or required of every user
  MFA_ENCRYPTION_KEY: secret(nonEmpty.optional()), // encrypts TOTP secrets at rest; comma-separated to rotate: the first encrypts, all decrypt
  MFA_TRUSTED_DEVICE_DAYS: int(0, 365).default(30), // days a browser the person chose to trust skips the second factor at a password login; 0 turns the choice off
  RATE_LIMIT_MFA_ACCOUNT_LIMIT: int(1).default(5), // wrong second-factor codes per account from unknown devices
  RATE_LIMIT_MFA_ACCOUNT_WINDOW_SECONDS: int(1).default(900), // the mfa-account window
  RATE_LIMIT_MFA_DEVICE_LIMIT: int(1).default(10), // wrong second-factor codes per known device (valid device cookie)
  RATE_LIMIT_MFA_DEVICE_WINDOW_SECONDS: int(1).default(900), // the mfa-device window
};

export type MfaMode = "off" | "optional" | "required";

const MIN_KEY_LENGTH = 32;

/** Second factors: the policy, the keys that protect TOTP secrets, the limits on guessing codes. */
export function mfaConfig(
  v: Values<typeof MFA_VARIABLES>,
  deps: { isProduction: boolean; sessionSecrets: string[] },
  report: Report,
) {
  return {
    mfa: {
      mode: v.MFA as MfaMode,
      /** Newest first: the first encrypts, every one decrypts. */
      encryptionKeys: encryptionKeys(v, deps, report),
      /** How long a trusted device skips the second factor (seconds); 0: no device can be trusted. */
      trustedDeviceSeconds: v.MFA_TRUSTED_DEVICE_DAYS * 86_400,
      account: {
        limit: v.RATE_LIMIT_MFA_ACCOUNT_LIMIT,
        windowSeconds: v.RATE_LIMIT_MFA_ACCOUNT_WINDOW_SECONDS,
      },
      device: { limit: v.RATE_LIMIT_MFA_DEVICE_LIMIT, windowSeconds: v.RATE_LIMIT_MFA_DEVICE_WINDOW_SECONDS },
    },
  };
}

export type MfaConfig = ReturnType<typeof mfaConfig>;

/**
 * Production refuses a missing or short key while second factors are on. Elsewhere a missing key is
 * derived from the session secret (with a warning): secrets stored under it stay readable only as long
 * as that secret does.
 */
function encryptionKeys(
  v: Values<typeof MFA_VARIABLES>,
  deps: { isProduction: boolean; sessionSecrets: string[] },
  report: Report,
): string[] {
  const keys = (v.MFA_ENCRYPTION_KEY ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const weak = keys.some((k) => k.length < MIN_KEY_LENGTH);
  if (keys.length > 0) {
    if (weak && deps.isProduction) {
      report.problems.push(
        `MFA_ENCRYPTION_KEY: every key must be at least ${MIN_KEY_LENGTH} characters in production`,
      );
    } else if (weak) {
      report.warnings.push(
        `MFA_ENCRYPTION_KEY is shorter than ${MIN_KEY_LENGTH} characters: production refuses it`,
      );
    }
    return keys;
  }
  if (v.MFA === "off") return [];
  if (deps.isProduction) {
    report.problems.push(
      `MFA_ENCRYPTION_KEY: required in production unless MFA=off (at least ${MIN_KEY_LENGTH} random characters; e.g. \`openssl rand -base64 48\`)`,
    );
    return [];
  }
  report.warnings.push(
    "MFA_ENCRYPTION_KEY is not set: TOTP secrets are encrypted with a key derived from SESSION_SECRET and become unreadable when it changes",
  );
  const derived = createHash("sha256")
    .update(`mfa-encryption|${deps.sessionSecrets[0] ?? ""}`)
    .digest("base64url");
  return [derived];
}
