import cluster from "node:cluster";
import { createServer } from "node:http";
import { createLogger } from "../infra/logging/logger.js";
import { boot, fatal, roleOfProcess } from "./boot.js";
import { followPrimary, runPrimary } from "./cluster.js";
import { createRuntime, migrateDatabase } from "./runtime.js";
import { handleShutdown } from "./shutdown.js";

// Railway's edge closes idle keep-alive connections after 60 s; ours must outlive that.
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

// How often Node checks connections against the request and headers timeouts (its default is 30 s,
// which would let a request overrun HTTP_REQUEST_TIMEOUT_MS by that much).
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/** The web process (`npm start`): one process, or the cluster primary and its workers (WEB_CONCURRENCY). */
export async function runWeb(): Promise<void> {
  const { config, logger } = boot({
    role: (config) => roleOfProcess(config.workers > 1 ? "primary" : "web"),
  });
  if (config.platform && !cluster.isWorker)
    logger.info({ platform: config.platform, env: config.env }, "hosting platform detected");
  if (config.workers > 1 && cluster.isPrimary) {
    // Migrate once, before any worker serves: the workers only check the schema is current.
    await migrateDatabase(config, logger).catch((err: Error) =>
      fatal(logger, `cannot migrate the database: ${err.message}`, err),
    );
    runPrimary({
      workers: config.workers,
      logger,
      shutdownBudgetMs: config.shutdownDelayMs + config.shutdownTimeoutMs,
    });
    return;
  }
  const runtime = await createRuntime(config, logger, {}, cluster.isWorker ? "check" : "apply").catch(
    (err: Error) => fatal(logger, `cannot start: ${err.message}`, err),
  );

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

  const { signals, cutShort } = handleShutdown({ server, runtime, config, logger });
  followPrimary({ stop: (signal) => signals.relayed(signal), cutShort });
}

/** Starts the web process; a failure to start is one fatal JSON line and exit 1. */
export function startWeb(): void {
  runWeb().catch((err: Error) =>
    fatal(
      createLogger({ level: "info" }).child({ role: roleOfProcess("web") }),
      `fatal: ${err.message}`,
      err,
    ),
  );
}
