import type { Server } from "node:http";
import type { Config } from "../config/config.js";
import type { Logger } from "../infra/logging/logger.js";
import { closeServer, type Runtime } from "./runtime.js";

// How often an orphaned process checks that its parent is still there (ms).
const PARENT_CHECK_INTERVAL_MS = 1000;

/**
 * Graceful shutdown on SIGTERM/SIGINT: readiness fails first while requests are still served, then the
 * server stops accepting, in-flight requests get `shutdownTimeoutMs`, and the dependencies close.
 * A process whose parent disappears (a wrapper such as `npm start` killed without passing the signal on)
 * shuts down the same way instead of running on unsupervised.
 */
export function handleShutdown(deps: {
  server: Server;
  runtime: Pick<Runtime, "lifecycle" | "close">;
  config: Pick<Config, "shutdownDelayMs" | "shutdownTimeoutMs">;
  logger: Logger;
  exit?: (code: number) => void;
}): { shutdown(reason: string): Promise<void> } {
  const { server, runtime, config, logger, exit = (code) => process.exit(code) } = deps;
  let stopping = false;
  let skipDelay: (() => void) | undefined;

  const shutdown = async (reason: string) => {
    if (stopping) {
      // A second signal (Ctrl-C twice) cuts the draining delay short.
      skipDelay?.();
      return;
    }
    stopping = true;
    clearInterval(parentCheck);
    runtime.lifecycle.beginShutdown();
    logger.info({ signal: reason, delayMs: config.shutdownDelayMs }, "shutting down: readiness now fails");
    await new Promise<void>((resolve) => {
      skipDelay = resolve;
      setTimeout(resolve, config.shutdownDelayMs);
    });
    logger.info({ timeoutMs: config.shutdownTimeoutMs }, "closing the server");
    await closeServer(server, config.shutdownTimeoutMs);
    await runtime.close();
    logger.info("stopped");
    exit(0);
  };

  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  const parentPid = process.ppid;
  const parentCheck = setInterval(() => {
    if (process.ppid === parentPid) return;
    logger.warn({ parentPid }, "parent process has gone without stopping this one");
    void shutdown("parent_exit");
  }, PARENT_CHECK_INTERVAL_MS);
  parentCheck.unref();

  return { shutdown };
}
