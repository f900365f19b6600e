import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger };

/** Paths pino blanks out wherever they appear in a log line. */
export const REDACT_PATHS = [
  "password",
  "*.password",
  "*.currentPassword",
  "*.newPassword",
  "secret",
  "*.secret",
  "req.headers.cookie",
  "req.headers.authorization",
  "headers.cookie",
  "headers.authorization",
  'res.headers["set-cookie"]',
  '*.headers["set-cookie"]',
  "redis.password",
];

/** Structured JSON logger with credentials redacted; `destination` lets tests read what was logged. */
export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: undefined,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
