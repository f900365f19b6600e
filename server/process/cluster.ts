import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry } from "prom-client";
import type { Logger } from "../infra/logging/logger.js";
import { METRICS_REQUEST, METRICS_RESPONSE, type MetricsMessage } from "./cluster-metrics.js";
import { type StopCause, superviseSignals } from "./signals.js";

// A worker that served for this long before dying counts as healthy again: its restart starts the backoff over.
const STABLE_AFTER_MS = 30_000;
const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 10_000;
// Of the shutdown budget, kept back for workers to close Redis and the database after draining.
const SHUTDOWN_RESERVE_MS = 2000;

/** The primary's word to its workers: stop (as on `signal`), or cut the drain delay short. */
export const SHUTDOWN_MESSAGE = "cluster:shutdown";
export interface ShutdownMessage {
  type: typeof SHUTDOWN_MESSAGE;
  signal: StopCause;
  cutShort: boolean;
}

/** Delay before restarting a worker that crashed `crashes` times in a row: 100 ms doubling, capped at 10 s. */
export function restartDelay(crashes: number): number {
  return Math.min(RESTART_BASE_MS * 2 ** Math.max(0, crashes - 1), RESTART_MAX_MS);
}

/**
 * The cluster primary: forks `workers` processes that share the port, restarts a crashed one with backoff,
 * answers the workers' `/metrics` with the sum over all of them (prom-client's AggregatorRegistry), and
 * on SIGTERM/SIGINT tells every worker to stop (each fails readiness, drains and closes), then exits 0
 * once all have ended cleanly. It passes a repeated signal on only when it is deliberate (signals.ts), as
 * a message: workers in the same process group got the signal itself too. It serves no requests and
 * opens no connection itself.
 */
export function runPrimary(deps: {
  workers: number;
  logger: Logger;
  /** After the signal, how long workers get before they are killed (their delay + timeout + closing). */
  shutdownBudgetMs: number;
  exit?: (code: number) => void;
}): { shutdown(signal: StopCause): void } {
  const { workers, shutdownBudgetMs, exit = (code) => process.exit(code) } = deps;
  const logger = deps.logger.child({ component: "cluster" });
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let failed = false;
  let booted = false; // every first worker has listened once
  const slots = new Map<Worker, { slot: number; startedAt: number; listening: boolean }>();
  const crashes = new Map<number, number>();

  const fork = (slot: number) => {
    const worker = cluster.fork({ WORKER_SLOT: String(slot) });
    slots.set(worker, { slot, startedAt: Date.now(), listening: false });
    worker.on("message", (message: MetricsMessage) => {
      if (message?.type !== METRICS_REQUEST) return;
      aggregator.clusterMetrics().then(
        (text) => worker.isConnected() && worker.send({ type: METRICS_RESPONSE, id: message.id, text }),
        (err: Error) =>
          worker.isConnected() && worker.send({ type: METRICS_RESPONSE, id: message.id, error: err.message }),
      );
    });
  };

  cluster.on("listening", (worker) => {
    const entry = slots.get(worker);
    if (!entry || entry.listening) return;
    entry.listening = true;
    logger.info({ worker: worker.id, pid: worker.process.pid, slot: entry.slot }, "worker listening");
    booted ||= [...slots.values()].every((e) => e.listening);
  });

  cluster.on("exit", (worker, code, signal) => {
    const entry = slots.get(worker);
    slots.delete(worker);
    if (!entry) return;
    if (stopping) {
      if (code !== 0) failed = true;
      logger.info({ worker: worker.id, pid: worker.process.pid, code, signal }, "worker stopped");
      if (slots.size === 0) {
        logger.info({ code: failed ? 1 : 0 }, "all workers stopped");
        exit(failed ? 1 : 0);
      }
      return;
    }
    if (!booted) {
      // A worker that cannot start (bad port, database down) ends the instance, as a single process would.
      logger.fatal({ worker: worker.id, code, signal }, "a worker failed to start; stopping the instance");
      failed = true;
      shutdown("SIGTERM");
      return;
    }
    const lived = Date.now() - entry.startedAt;
    const count = lived > STABLE_AFTER_MS ? 1 : (crashes.get(entry.slot) ?? 0) + 1;
    crashes.set(entry.slot, count);
    const delayMs = restartDelay(count);
    logger.error(
      { worker: worker.id, pid: worker.process.pid, code, signal, livedMs: lived, delayMs },
      "worker died; restarting it",
    );
    setTimeout(() => {
      if (!stopping) fork(entry.slot);
    }, delayMs).unref();
  });

  const tell = (signal: StopCause, cutShort: boolean) => {
    const message: ShutdownMessage = { type: SHUTDOWN_MESSAGE, signal, cutShort };
    for (const worker of slots.keys()) {
      if (worker.isConnected()) worker.send(message);
      else worker.process.kill(signal === "parent_exit" ? "SIGTERM" : signal);
    }
  };

  const shutdown = (signal: StopCause) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: slots.size }, "shutting down: telling every worker to stop");
    if (slots.size === 0) {
      exit(failed ? 1 : 0);
      return;
    }
    setTimeout(() => {
      logger.error({ workers: slots.size }, "workers did not stop in time; killing them");
      failed = true;
      for (const worker of slots.keys()) worker.process.kill("SIGKILL");
    }, shutdownBudgetMs + SHUTDOWN_RESERVE_MS).unref();
    tell(signal, false);
  };

  // As a single process does: a wrapper killed without passing the signal on must not leave us running.
  superviseSignals({
    logger,
    onStop: shutdown,
    onCutShort: (signal) => tell(signal, true),
  });

  logger.info({ workers }, "starting workers");
  for (let slot = 0; slot < workers; slot++) fork(slot);
  return { shutdown };
}

/** In a cluster worker: follows the primary's shutdown messages (`stop` begins, `cutShort` skips the delay). */
export function followPrimary(handlers: { stop(signal: StopCause): void; cutShort(): void }): void {
  if (!cluster.isWorker) return;
  process.on("message", (message: ShutdownMessage) => {
    if (message?.type !== SHUTDOWN_MESSAGE) return;
    handlers.stop(message.signal);
    if (message.cutShort) handlers.cutShort();
  });
}
