import cluster from "node:cluster";
import { createServer } from "node:http";
import { ConfigError, loadConfig } from "../config/config.js";
import { createLogger, type Logger } from "../infra/logging/logger.js";
import { runPrimary, workerLogger } from "./cluster.js";
import { trackConnections } from "./drain.js";
import { loadEnvFile } from "./env-file.js";
import { createRuntime } from "./runtime.js";
import { handleShutdown } from "./shutdown.js";

// Railway's edge closes idle keep-alive connections after 60 s; ours must outlive that.
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

// How often Node checks connections against the request and headers timeouts (its default is 30 s,
// which would let a request overrun HTTP_REQUEST_TIMEOUT_MS by that much).
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/** The web process (`npm start`): one process, or the cluster primary and its workers (WEB_CONCURRENCY). */
export async function runWeb(): Promise<void> {
  const fromEnvFile = loadEnvFile();
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      // Before the logger exists: a plain list for the person reading the deploy log.
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = workerLogger(createLogger({ level: config.logLevel }));
  process.on("uncaughtException", (err) => fatal(err, "uncaught exception", logger));
  process.on("unhandledRejection", (err) => fatal(err, "unhandled promise rejection", logger));
  if (fromEnvFile.length > 0)
    logger.info({ variables: fromEnvFile }, "read .env (the environment's own values win)");
  if (config.platform)
    logger.info({ platform: config.platform, env: config.env }, "hosting platform detected");
  if (config.workers > 1 && cluster.isPrimary) {
    runPrimary({
      workers: config.workers,
      scheduling: config.workerScheduling,
      logger,
      shutdownBudgetMs: config.shutdownDelayMs + config.shutdownTimeoutMs,
    });
    return;
  }
  const runtime = await createRuntime(config, logger);

  // Node only bounds idle keep-alive connections with keepAliveTimeout; headersTimeout and
  // requestTimeout count from a request's first byte, so they may be shorter than the keep-alive.
  const server = createServer(
    {
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeout: config.http.headersTimeoutMs,
      requestTimeout: config.http.requestTimeoutMs,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    runtime.app,
  );
  trackConnections(server); // from the first connection, so a drain knows which ones are mid-request
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch(async (err: NodeJS.ErrnoException) => {
    logger.fatal(
      { err: { code: err.code, message: err.message }, host: config.host, port: config.port },
      err.code === "EADDRINUSE"
        ? `cannot listen: port ${config.port} on ${config.host} is already in use`
        : `cannot listen on ${config.host}:${config.port}: ${err.code ?? err.message}`,
    );
    await runtime.close().catch(() => {});
    process.exit(1);
  });
  logger.info({ address: server.address(), env: config.env }, "listening");

  handleShutdown({ server, runtime, config, logger });
}

/** Logs one JSON line naming the cause and exits non-zero. */
function fatal(err: unknown, msg: string, logger: Logger = createLogger({ level: "info" })): never {
  const e = err as NodeJS.ErrnoException;
  logger.fatal({ err: { name: e?.name, code: e?.code, message: e?.message ?? String(err) } }, msg);
  process.exit(1);
}

/** Starts the web process; a failure to start is one fatal JSON line and exit 1. */
export function startWeb(): void {
  runWeb().catch((err: Error) => fatal(err, `fatal: ${err.message}`));
}
