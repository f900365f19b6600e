import type { Server } from "node:http";
import type { Config } from "../config/config.js";
import type { Logger } from "../infra/logging/logger.js";
import { closeServer, type Runtime } from "./runtime.js";
import { type SignalSupervisor, type StopCause, superviseSignals } from "./signals.js";

/**
 * Graceful shutdown on SIGTERM/SIGINT: readiness fails first while requests are still served, then the
 * server stops accepting, in-flight requests get `shutdownTimeoutMs`, and the dependencies close.
 * A process whose parent disappears (a wrapper such as `npm start` killed without passing the signal on)
 * shuts down the same way instead of running on unsupervised. Only a deliberate repeat of the signal
 * (signals.ts) cuts the readiness delay short; the duplicate of a process-group signal does not.
 */
export function handleShutdown(deps: {
  server: Server;
  runtime: Pick<Runtime, "lifecycle" | "close">;
  config: Pick<Config, "shutdownDelayMs" | "shutdownTimeoutMs">;
  logger: Logger;
  exit?: (code: number) => void;
}): { shutdown(reason: StopCause): Promise<void>; cutShort(): void; signals: SignalSupervisor } {
  const { server, runtime, config, logger, exit = (code) => process.exit(code) } = deps;
  let skipDelay: (() => void) | undefined;
  let cut = false;
  let done: Promise<void> | undefined;

  const cutShort = () => {
    cut = true;
    skipDelay?.();
  };

  const shutdown = (reason: StopCause) => {
    done ??= (async () => {
      runtime.lifecycle.beginShutdown();
      logger.info({ signal: reason, delayMs: config.shutdownDelayMs }, "shutting down: readiness now fails");
      if (!cut) {
        await new Promise<void>((resolve) => {
          skipDelay = resolve;
          setTimeout(resolve, config.shutdownDelayMs);
        });
      }
      logger.info({ timeoutMs: config.shutdownTimeoutMs }, "closing the server");
      await closeServer(server, config.shutdownTimeoutMs);
      await runtime.close();
      logger.info("stopped");
      exit(0);
    })();
    return done;
  };

  const signals = superviseSignals({ logger, onStop: (cause) => void shutdown(cause), onCutShort: cutShort });
  return { shutdown, cutShort, signals };
}
