import { bool, int, type Values } from "./variables.js";

export const RATE_LIMIT_VARIABLES = {
  RATE_LIMIT_DRY_RUN: bool.default(false), // count and log, reject nothing
  RATE_LIMIT_INSTANCES: int(1, 1000).default(1), // instances sharing the limits; divides them while Redis is down
  RATE_LIMIT_IPV6_PREFIX: int(1, 128).default(64), // bits of an IPv6 address that identify one client
  RATE_LIMIT_MEMORY_MAX_KEYS: int(1).default(100_000), // subjects the in-process limiter remembers
  RATE_LIMIT_GLOBAL_LIMIT: int(1).default(300), // requests per client address per window (all but /health*, /metrics, the stylesheet)
  RATE_LIMIT_GLOBAL_WINDOW_SECONDS: int(1).default(60), // the global window
  RATE_LIMIT_LOGIN_LIMIT: int(1).default(20), // POST /auth/login and /auth/register, and provider sign-ins started, per client address
  RATE_LIMIT_LOGIN_WINDOW_SECONDS: int(1).default(900), // the login window
  RATE_LIMIT_LOGIN_ACCOUNT_LIMIT: int(1).default(5), // failed logins per account across all addresses
  RATE_LIMIT_LOGIN_ACCOUNT_WINDOW_SECONDS: int(1).default(900), // the per-account window
  RATE_LIMIT_LOGIN_DEVICE_LIMIT: int(1).default(10), // failed logins per known device (valid device cookie)
  RATE_LIMIT_LOGIN_DEVICE_WINDOW_SECONDS: int(1).default(900), // the per-device window
  RATE_LIMIT_LOGIN_KNOWN_DEVICE_LIMIT: int(1).default(20), // logins per known device (valid device cookie), in place of the per-address limit
  RATE_LIMIT_LOGIN_KNOWN_DEVICE_WINDOW_SECONDS: int(1).default(900), // the known-device window
  RATE_LIMIT_RECOVERY_LIMIT: int(1).default(10), // "forgot password" and "send the link again" per client address
  RATE_LIMIT_RECOVERY_WINDOW_SECONDS: int(1).default(900), // the recovery window
  RATE_LIMIT_RECOVERY_EMAIL_LIMIT: int(1).default(3), // mails asked for one address; past it the answer is the same, no mail
  RATE_LIMIT_RECOVERY_EMAIL_WINDOW_SECONDS: int(1).default(900), // the recovery-email window
  RATE_LIMIT_API_LIMIT: int(1).default(600), // authenticated /api/* requests per user
  RATE_LIMIT_API_WINDOW_SECONDS: int(1).default(60), // the api window
  RATE_LIMIT_ADMIN_KEY_LIMIT: int(1).default(10), // wrong admin keys per client address (/metrics*, /api/cache/*, health details)
  RATE_LIMIT_ADMIN_KEY_WINDOW_SECONDS: int(1).default(900), // the admin-key window
};

export interface RateLimitSetting {
  limit: number;
  windowSeconds: number;
}

const setting = (limit: number, windowSeconds: number): RateLimitSetting => ({ limit, windowSeconds });

/** The product's rate-limit policies and how the limiter behaves without Redis. */
export function rateLimitConfig(v: Values<typeof RATE_LIMIT_VARIABLES>) {
  return {
    rateLimit: {
      dryRun: v.RATE_LIMIT_DRY_RUN,
      instances: v.RATE_LIMIT_INSTANCES,
      ipv6PrefixBits: v.RATE_LIMIT_IPV6_PREFIX,
      memoryMaxKeys: v.RATE_LIMIT_MEMORY_MAX_KEYS,
      global: setting(v.RATE_LIMIT_GLOBAL_LIMIT, v.RATE_LIMIT_GLOBAL_WINDOW_SECONDS),
      login: setting(v.RATE_LIMIT_LOGIN_LIMIT, v.RATE_LIMIT_LOGIN_WINDOW_SECONDS),
      loginAccount: setting(v.RATE_LIMIT_LOGIN_ACCOUNT_LIMIT, v.RATE_LIMIT_LOGIN_ACCOUNT_WINDOW_SECONDS),
      loginDevice: setting(v.RATE_LIMIT_LOGIN_DEVICE_LIMIT, v.RATE_LIMIT_LOGIN_DEVICE_WINDOW_SECONDS),
      loginKnownDevice: setting(
        v.RATE_LIMIT_LOGIN_KNOWN_DEVICE_LIMIT,
        v.RATE_LIMIT_LOGIN_KNOWN_DEVICE_WINDOW_SECONDS,
      ),
      recovery: setting(v.RATE_LIMIT_RECOVERY_LIMIT, v.RATE_LIMIT_RECOVERY_WINDOW_SECONDS),
      recoveryEmail: setting(v.RATE_LIMIT_RECOVERY_EMAIL_LIMIT, v.RATE_LIMIT_RECOVERY_EMAIL_WINDOW_SECONDS),
      api: setting(v.RATE_LIMIT_API_LIMIT, v.RATE_LIMIT_API_WINDOW_SECONDS),
      adminKey: setting(v.RATE_LIMIT_ADMIN_KEY_LIMIT, v.RATE_LIMIT_ADMIN_KEY_WINDOW_SECONDS),
    },
  };
}

export type RateLimitConfig = ReturnType<typeof rateLimitConfig>;
