import { randomBytes } from "node:crypto";
import { z } from "zod";
import { bool, int, nonEmpty, type Report, secret, type Values } from "./variables.js";

export const SESSION_VARIABLES = {
  SESSION_SECRET: secret(nonEmpty.optional()), // comma-separated to rotate: the first signs, all verify
  SESSION_COOKIE_NAME: z
    .string()
    .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "must be a valid cookie name")
    .optional(), // default __Host-sid when Secure, else sid
  SESSION_TTL_SECONDS: int(1).default(86_400), // idle timeout
  SESSION_ABSOLUTE_TTL_SECONDS: int(1).default(7 * 86_400), // lifetime from login
  SESSION_TOUCH_FRACTION: z
    .string()
    .regex(/^(0|0?\.\d+)$/, "must be a decimal from 0 to below 1, e.g. 0.1")
    .transform(Number)
    .pipe(z.number().min(0).lt(1))
    .default(0.1), // the expiry is extended once this fraction of the TTL has passed (0: every request)
  SESSION_MEMORY_MAX: int(1).default(10_000), // capacity of the embedded session store (no Redis)
  SESSION_MAX_PER_USER: int(0).default(20), // sessions one user may have; a login past it ends the least recently used (0: no limit)
  DEVICE_COOKIE_NAME: z
    .string()
    .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "must be a valid cookie name")
    .optional(), // default __Host-device when Secure, else device
  DEVICE_COOKIE_TTL_DAYS: int(1, 3650).default(90), // how long a device stays known after its last login
  COOKIE_SECURE: bool.optional(), // default true in production
  COOKIE_SAMESITE: z.enum(["strict", "lax", "none"]).default("strict"), // none requires COOKIE_SECURE=true
  REAUTH_MAX_AGE_SECONDS: int(1, 86_400).default(600), // sensitive actions need an authentication this recent ("sudo mode")
  SESSION_DURABLE: z.enum(["on", "off"]).default("on"), // a durable record of each Redis session in the database, restored when Redis loses it
  SESSION_DURABLE_MAX_BYTES: int(0, 1_048_576).default(4096), // team data in a session beyond this (JSON bytes) is kept in Redis only
  SESSION_DURABLE_TOUCH_SECONDS: int(1, 86_400).default(300), // the durable record's idle expiry is refreshed at most this often per session
  SESSION_FALLBACK: z.enum(["off", "database"]).default("off"), // database: while Redis is unreachable, signed-in sessions are served from their durable records instead of 503
};

const MIN_SECRET_LENGTH = 32;

/** The session, its cookie and the secrets that sign it. */
export function sessionConfig(
  v: Values<typeof SESSION_VARIABLES>,
  deps: { isProduction: boolean },
  report: Report,
) {
  const { problems, warnings } = report;
  const cookieSecure = v.COOKIE_SECURE ?? deps.isProduction;
  if (v.COOKIE_SAMESITE === "none" && !cookieSecure) {
    problems.push("COOKIE_SAMESITE: 'none' requires COOKIE_SECURE=true (browsers reject it otherwise)");
  }
  if (/^__(Host|Secure)-/i.test(v.SESSION_COOKIE_NAME ?? "") && !cookieSecure) {
    problems.push(
      "SESSION_COOKIE_NAME: a __Host- or __Secure- name requires COOKIE_SECURE=true (browsers drop the cookie otherwise)",
    );
  }
  if (/^__(Host|Secure)-/i.test(v.DEVICE_COOKIE_NAME ?? "") && !cookieSecure) {
    problems.push(
      "DEVICE_COOKIE_NAME: a __Host- or __Secure- name requires COOKIE_SECURE=true (browsers drop the cookie otherwise)",
    );
  }
  if (deps.isProduction && v.COOKIE_SECURE === false) {
    warnings.push(
      "COOKIE_SECURE=false in production: the session cookie is sent over plain HTTP and can be stolen on the network",
    );
  }
  if (v.SESSION_FALLBACK === "database" && v.SESSION_DURABLE === "off") {
    problems.push("SESSION_FALLBACK: 'database' requires SESSION_DURABLE=on (it serves the durable records)");
  }
  if (v.SESSION_ABSOLUTE_TTL_SECONDS < v.SESSION_TTL_SECONDS) {
    problems.push("SESSION_ABSOLUTE_TTL_SECONDS: must be at least SESSION_TTL_SECONDS");
  }
  return {
    session: {
      secrets: sessionSecrets(v.SESSION_SECRET, deps.isProduction, report),
      cookieName: v.SESSION_COOKIE_NAME ?? (cookieSecure ? "__Host-sid" : "sid"),
      ttlSeconds: v.SESSION_TTL_SECONDS,
      absoluteTtlSeconds: v.SESSION_ABSOLUTE_TTL_SECONDS,
      memoryMax: v.SESSION_MEMORY_MAX,
      /** Sessions per user; 0: no limit. */
      maxPerUser: v.SESSION_MAX_PER_USER,
      deviceCookieName: v.DEVICE_COOKIE_NAME ?? (cookieSecure ? "__Host-device" : "device"),
      deviceCookieTtlSeconds: v.DEVICE_COOKIE_TTL_DAYS * 86_400,
      /**
       * The session's expiry in Redis is extended only once its remaining lifetime has dropped by more
       * than this fraction of the TTL (0: on every request).
       */
      touchFraction: v.SESSION_TOUCH_FRACTION,
      cookieSecure,
      sameSite: v.COOKIE_SAMESITE,
      /** Sensitive actions need the person to have authenticated on the session within this, seconds. */
      reauthMaxAgeSeconds: v.REAUTH_MAX_AGE_SECONDS,
      /** Durable records of Redis sessions in the database (none for the in-process store). */
      durable: {
        enabled: v.SESSION_DURABLE === "on",
        /** Team data larger than this (JSON bytes) stays in Redis only. */
        maxBytes: v.SESSION_DURABLE_MAX_BYTES,
        /** The record's idle expiry is written at most this often per session, seconds. */
        touchSeconds: v.SESSION_DURABLE_TOUCH_SECONDS,
        /** While Redis is unreachable, serve signed-in sessions from their records. */
        fallback: v.SESSION_FALLBACK === "database",
      },
    },
  };
}

export type SessionConfig = ReturnType<typeof sessionConfig>;

/** Production refuses a missing or short secret; development makes one up for the process. */
function sessionSecrets(value: string | undefined, isProduction: boolean, report: Report): string[] {
  const secrets = (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const weak = secrets.some((s) => s.length < MIN_SECRET_LENGTH);
  if (isProduction) {
    if (secrets.length === 0) {
      report.problems.push(
        `SESSION_SECRET: required in production (at least ${MIN_SECRET_LENGTH} random characters; e.g. \`openssl rand -base64 48\`)`,
      );
    } else if (weak) {
      report.problems.push(
        `SESSION_SECRET: every secret must be at least ${MIN_SECRET_LENGTH} characters in production`,
      );
    }
  } else if (secrets.length === 0) {
    report.warnings.push(
      "SESSION_SECRET is not set: using a random secret for this process; sessions end when it restarts",
    );
    return [randomBytes(32).toString("base64url")];
  } else if (weak) {
    report.warnings.push(
      `SESSION_SECRET is shorter than ${MIN_SECRET_LENGTH} characters: production refuses it`,
    );
  }
  return secrets;
}
