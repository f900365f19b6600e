import { availableParallelism } from "node:os";
import { z } from "zod";
import type { Report, Values } from "./variables.js";

export const WORKERS_VARIABLES = {
  WEB_CONCURRENCY: z
    .string()
    .regex(/^(auto|\d+)$/, "must be a whole number from 1 or 'auto'")
    .optional(), // worker processes sharing the port; unset: 1 (no cluster); auto: one per core
  WEB_SCHEDULING: z.enum(["kernel", "round-robin"]).optional(), // who hands connections to workers; unset: kernel
};

/** How many worker processes share the port; more than one needs what every worker can share. */
export function workersConfig(
  v: Values<typeof WORKERS_VARIABLES>,
  deps: { hasDatabaseUrl: boolean; hasRedis: boolean; hasSecret: boolean },
  report: Report,
) {
  const available = availableParallelism();
  let workers = 1;
  if (v.WEB_CONCURRENCY === "auto") workers = available;
  else if (v.WEB_CONCURRENCY !== undefined) {
    workers = Number(v.WEB_CONCURRENCY);
    if (workers < 1 || workers > 256) {
      report.problems.push(`WEB_CONCURRENCY: must be from 1 to 256 or 'auto' (got "${v.WEB_CONCURRENCY}")`);
      workers = 1;
    } else if (workers > available) {
      report.warnings.push(
        `WEB_CONCURRENCY=${workers} is more than the ${available} cores available: workers compete for CPU`,
      );
    }
  }
  if (workers > 1) {
    // Each worker is its own process: what lives in one process cannot be shared by the others.
    if (!deps.hasDatabaseUrl) {
      report.problems.push(
        "WEB_CONCURRENCY: more than 1 worker needs DATABASE_URL (the embedded database belongs to one process)",
      );
    }
    if (!deps.hasSecret) {
      report.problems.push(
        "WEB_CONCURRENCY: more than 1 worker needs SESSION_SECRET (a random secret would differ between workers)",
      );
    }
    if (!deps.hasRedis) {
      report.problems.push(
        "WEB_CONCURRENCY: more than 1 worker needs Redis (in-process sessions are not shared between workers)",
      );
    }
  }
  /**
   * Worker processes sharing the port (WEB_CONCURRENCY); 1 means no cluster. `workerScheduling`: "kernel"
   * lets each worker accept from the shared socket, so no connection waits in the primary on a dead worker;
   * "round-robin" is Node's default (the primary accepts and hands each connection to a worker in turn).
   */
  return { workers, workerScheduling: v.WEB_SCHEDULING ?? "kernel" };
}

export type WorkersConfig = ReturnType<typeof workersConfig>;
