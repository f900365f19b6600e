import type { Config } from "../config/config.js";
import { createMailComposer } from "../domain/mail/compose.js";
import type { Logger } from "../infra/logging/logger.js";
import type { MailComposer } from "../infra/mail/types.js";
import { within } from "../lib/within.js";
import { boot, fatal } from "./boot.js";
import { createRuntimeContext, defaultFactories, openMailQueue, processMail } from "./runtime.js";
import { superviseSignals } from "./signals.js";

/** How the worker turns a job into a message; the product's composer unless replaced. */
export type ComposerFactory = (deps: Parameters<typeof createMailComposer>[0]) => MailComposer;

/**
 * Opens what the mail jobs need (the database, checked to be current, or an embedded one migrated; the
 * mailer; the queue on Redis) and runs them
 * until `close`, which lets a mail being sent finish within `drainMs` and closes the rest.
 */
export async function runMailWorker(deps: {
  config: Config;
  logger: Logger;
  composer?: ComposerFactory;
  drainMs?: number;
}): Promise<{ close(): Promise<void> }> {
  const { config, logger } = deps;
  if (!config.queue.redis) {
    throw new Error(
      "the worker needs Redis: set REDIS_URL (and QUEUE_REDIS_URL for a queue Redis of its own)",
    );
  }
  // The web process (or `npm run db:migrate`) migrates a shared database; this one only checks it.
  const ctx = createRuntimeContext(config, logger, "check");
  try {
    const db = await defaultFactories.database(ctx);
    const mailer = defaultFactories.mailer(ctx);
    const queue = await openMailQueue(ctx);
    const compose = (deps.composer ?? createMailComposer)({ config, db, logger });
    const worker = processMail(ctx, { queue, mailer, compose });
    ctx.onClose(() => worker.close(deps.drainMs ?? config.shutdownTimeoutMs));
    logger.info(
      { queue: queue.name, redis: config.queue.redis.source, transport: mailer.kind },
      "mail worker running",
    );
    return { close: ctx.close };
  } catch (err) {
    await ctx.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The worker process (`node dist/server/worker.js`): config as the web process reads it, JSON logs, and on
 * SIGTERM/SIGINT no new job is taken, the running one finishes (bounded by SHUTDOWN_TIMEOUT_MS), exit 0.
 */
export async function runMailWorkerProcess(options: { composer?: ComposerFactory } = {}): Promise<void> {
  const { config, logger } = boot({ role: "mail worker", serves: false });
  for (const warning of config.warnings) logger.warn(warning);
  if (!config.queue.redis) {
    fatal(
      logger,
      "the worker needs Redis: set REDIS_URL (jobs live there; without it the web process runs them itself)",
    );
  }
  if (!config.database.url) {
    // PGlite is embedded: the web process' data directory cannot be shared, so accounts are not found here.
    logger.warn(
      "No DATABASE_URL: the worker opens an embedded PGlite database of its own, not the web process' users",
    );
  }
  const running = await runMailWorker({ config, logger, composer: options.composer }).catch((err: Error) =>
    fatal(logger, `cannot start the worker: ${err.message}`, err),
  );
  const stop = async (signal: string) => {
    logger.info(
      { signal, timeoutMs: config.shutdownTimeoutMs },
      "stopping: no new job; the running one may finish",
    );
    // The close is bounded piece by piece; this guard keeps a stuck dependency from holding the exit.
    await within(running.close(), config.shutdownTimeoutMs + 5000).catch(() =>
      logger.warn("shutdown did not finish in time"),
    );
    logger.info("stopped");
    process.exit(0);
  };
  superviseSignals({
    logger,
    onStop: (cause) => void stop(cause),
    // Only a deliberate repeat (Ctrl-C again): the running job is not waited for; it runs again later.
    onCutShort: () => {
      logger.warn("not waiting for the running job: it will be run again once it counts as stalled");
      process.exit(1);
    },
  });
}
