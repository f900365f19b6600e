import cluster from "node:cluster";
import type { DestinationStream } from "pino";
import { type Config, ConfigError, loadConfig } from "../config/config.js";
import { createLogger, type Logger } from "../infra/logging/logger.js";
import { loadEnvFile } from "./env-file.js";

/** Which process a log line comes from: `web` (one process), `primary`, `worker N`, `mail worker`, `cli NAME`. */
export type Role = string;

export interface Booted {
  config: Config;
  /** Every line names the role (and, in a cluster worker, its pid). */
  logger: Logger;
  role: Role;
}

/**
 * Logs one fatal JSON line (`msg`, and the error's name, code and message, never its stack) and exits 1.
 * The one way every entry point ends on an error it cannot recover from.
 */
export function fatal(logger: Logger, message: string, err?: unknown): never {
  const e = err as NodeJS.ErrnoException | undefined;
  logger.fatal(
    err === undefined ? {} : { err: { name: e?.name, code: e?.code, message: e?.message ?? String(err) } },
    message,
  );
  process.exit(1);
}

/**
 * The start of every entry point (web, mail worker, CLIs): reads `.env` (the environment's own values
 * win), loads and validates the config once, makes the logger, and turns an invalid config, an uncaught
 * exception or an unhandled rejection into one fatal JSON line naming the role, then exit 1.
 * `role` may depend on the config (the web process is `primary` when it forks workers).
 */
export function boot(options: {
  role: Role | ((config: Config) => Role);
  /** The CLIs log to stderr so stdout stays pure JSON for scripts, and only warnings unless LOG_LEVEL asks. */
  destination?: DestinationStream;
  quiet?: boolean;
  /** False for a process that answers no browser (mail worker, CLIs): see `loadConfig`. */
  serves?: boolean;
}): Booted {
  const fromEnvFile = loadEnvFile();
  const provisional = typeof options.role === "string" ? options.role : undefined;
  let config: Config;
  try {
    config = loadConfig(process.env, { serves: options.serves });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const logger = createLogger({ level: "info", destination: options.destination }).child({
      role: provisional ?? roleOfProcess("web"),
    });
    logger.fatal({ problems: err.problems }, `invalid configuration: ${err.problems.join("; ")}`);
    process.exit(1);
  }
  const role = typeof options.role === "string" ? options.role : options.role(config);
  const level = options.quiet && config.logLevel === "info" ? "warn" : config.logLevel;
  const base = createLogger({
    level,
    destination: options.destination,
    repeatIntervalMs: config.logRepeatIntervalMs,
  });
  // In a cluster worker every line also names the worker and its pid (the primary's lines name them too).
  const logger =
    cluster.isWorker && cluster.worker
      ? base.child({ role, worker: cluster.worker.id, pid: process.pid })
      : base.child({ role });
  process.on("uncaughtException", (err) => fatal(logger, "uncaught exception", err));
  process.on("unhandledRejection", (err) => fatal(logger, "unhandled promise rejection", err));
  if (fromEnvFile.length > 0 && !cluster.isWorker) {
    logger.info({ variables: fromEnvFile }, "read .env (the environment's own values win)");
  }
  return { config, logger, role };
}

/** `worker N` in a cluster worker, else `fallback`. */
export function roleOfProcess(fallback: Role): Role {
  return cluster.isWorker && cluster.worker ? `worker ${cluster.worker.id}` : fallback;
}
