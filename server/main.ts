import { ConfigError, loadConfig } from "./config/config.js";
import { createLogger } from "./logging/logger.js";
import { closeServer, createRuntime } from "./runtime.js";

// Railway's edge closes idle keep-alive connections after 60 s; ours must outlive that.
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel });
  const runtime = await createRuntime(config, logger);

  const server = runtime.app.listen(config.port, config.host, () => {
    const address = server.address();
    logger.info({ address, env: config.env }, "listening");
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000;

  let stopping = false;
  let skipDelay: (() => void) | undefined;
  const shutdown = async (signal: string) => {
    if (stopping) {
      // A second signal (Ctrl-C twice) cuts the draining delay short.
      skipDelay?.();
      return;
    }
    stopping = true;
    // Readiness fails from now on, but we keep serving so the balancer can notice and move traffic away.
    runtime.lifecycle.beginShutdown();
    logger.info({ signal, delayMs: config.shutdownDelayMs }, "shutting down: readiness now fails");
    await new Promise<void>((resolve) => {
      skipDelay = resolve;
      setTimeout(resolve, config.shutdownDelayMs);
    });
    logger.info({ timeoutMs: config.shutdownTimeoutMs }, "closing the server");
    await closeServer(server, config.shutdownTimeoutMs);
    await runtime.close();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err: Error) => {
  process.stderr.write(`fatal: ${err.message}\n`);
  process.exit(1);
});
