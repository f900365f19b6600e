import cluster, { type Worker } from "node:cluster";
import type { Logger } from "../infra/logging/logger.js";
import {
  createClusterMetrics,
  METRICS_REQUEST,
  METRICS_RESPONSE,
  type MetricsMessage,
} from "./cluster-metrics.js";

// A worker that served for this long before dying counts as healthy again: its restart starts the backoff over.
const STABLE_AFTER_MS = 30_000;
const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 10_000;
// Of the shutdown budget, kept back for workers to close Redis and the database after draining.
const SHUTDOWN_RESERVE_MS = 2000;
const PARENT_CHECK_INTERVAL_MS = 1000;

/** Delay before restarting a worker that crashed `crashes` times in a row: 100 ms doubling, capped at 10 s. */
export function restartDelay(crashes: number): number {
  return Math.min(RESTART_BASE_MS * 2 ** Math.max(0, crashes - 1), RESTART_MAX_MS);
}

/**
 * The cluster primary: forks `workers` processes that share the port, restarts a crashed one with backoff,
 * answers the workers' `/metrics` with the sum over all of them (dead workers' counters included), and
 * on SIGTERM/SIGINT passes the signal to every worker (each fails readiness, drains and closes), then
 * exits 0 once all have ended cleanly. It serves no requests and opens no connection itself.
 */
export function runPrimary(deps: {
  workers: number;
  /** "kernel": each worker accepts from the shared socket; "round-robin": the primary accepts and hands out. */
  scheduling?: "kernel" | "round-robin";
  logger: Logger;
  /** After the signal, how long workers get before they are killed (their delay + timeout + closing). */
  shutdownBudgetMs: number;
  exit?: (code: number) => void;
}): { shutdown(signal: NodeJS.Signals): void } {
  const { workers, shutdownBudgetMs, exit = (code) => process.exit(code) } = deps;
  const logger = deps.logger.child({ component: "cluster" });
  // Round-robin: the primary accepts each connection and hands it to a worker; one handed to a worker that
  // dies before taking it is neither closed nor handed to another, so its client waits until it gives up.
  // With the kernel's balancing nothing waits in the primary; the spread is less even (reliability.md).
  cluster.schedulingPolicy = deps.scheduling === "round-robin" ? cluster.SCHED_RR : cluster.SCHED_NONE;
  const metrics = createClusterMetrics();
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
      metrics.collect([...slots.keys()]).then(
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
    metrics.retire(worker);
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

  const shutdown = (signal: NodeJS.Signals) => {
    if (!stopping) {
      stopping = true;
      logger.info({ signal, workers: slots.size }, "shutting down: passing the signal to every worker");
      if (slots.size === 0) {
        exit(failed ? 1 : 0);
        return;
      }
      setTimeout(() => {
        logger.error({ workers: slots.size }, "workers did not stop in time; killing them");
        failed = true;
        for (const worker of slots.keys()) worker.process.kill("SIGKILL");
      }, shutdownBudgetMs + SHUTDOWN_RESERVE_MS).unref();
    }
    // A second signal is passed on too: it cuts the workers' readiness delay short.
    for (const worker of slots.keys()) worker.process.kill(signal);
  };

  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  // As a single process does: a wrapper killed without passing the signal on must not leave us running.
  const parentPid = process.ppid;
  setInterval(() => {
    if (process.ppid === parentPid || stopping) return;
    logger.warn({ parentPid }, "parent process has gone without stopping this one");
    shutdown("SIGTERM");
  }, PARENT_CHECK_INTERVAL_MS).unref();

  logger.info({ workers }, "starting workers");
  for (let slot = 0; slot < workers; slot++) fork(slot);
  return { shutdown };
}

/** In a cluster worker, every log line names the worker; elsewhere the logger as it is. */
export function workerLogger(logger: Logger): Logger {
  return cluster.isWorker && cluster.worker
    ? logger.child({ worker: cluster.worker.id, pid: process.pid })
    : logger;
}
