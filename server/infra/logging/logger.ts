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

/** LOG_REPEAT_INTERVAL_MS, kept on the root logger; pino's children inherit it from their parent. */
const REPEAT_INTERVAL = Symbol("repeatIntervalMs");

/** How often a repeating failure's count is logged (repeat-log.ts), as the logger was made with. */
export function repeatIntervalOf(logger: Logger): number | undefined {
  return (logger as Logger & { [REPEAT_INTERVAL]?: number })[REPEAT_INTERVAL];
}

/**
 * Structured JSON logger with credentials redacted; `destination` lets tests read what was logged;
 * `repeatIntervalMs` is how often an ongoing failure's count is written (LOG_REPEAT_INTERVAL_MS).
 */
export function createLogger(options: {
  level: string;
  destination?: DestinationStream;
  repeatIntervalMs?: number;
}): Logger {
  const logger = pino(
    {
      level: options.level,
      base: undefined,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
  if (options.repeatIntervalMs !== undefined) {
    Object.defineProperty(logger, REPEAT_INTERVAL, { value: options.repeatIntervalMs });
  }
  return logger;
}
