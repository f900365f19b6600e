import { int, type Values } from "./variables.js";

export const DEVICE_VARIABLES = {
  DEVICE_CODE_TTL_SECONDS: int(60, 3600).default(600), // how long a device sign-in code waits for its owner's approval
  DEVICE_POLL_INTERVAL_SECONDS: int(1, 60).default(5), // the interval a device must leave between polls at first
};

/** Device sign-in (RFC 8628) for CLIs and devices without a browser. */
export function deviceConfig(v: Values<typeof DEVICE_VARIABLES>) {
  return {
    device: {
      codeTtlSeconds: v.DEVICE_CODE_TTL_SECONDS,
      pollIntervalSeconds: v.DEVICE_POLL_INTERVAL_SECONDS,
    },
  };
}
