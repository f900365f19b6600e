import { randomUUID } from "node:crypto";
import {
  type AddOptions,
  JOB_DEFAULTS,
  type JobHandler,
  type JobQueue,
  type JobWorker,
  type ProcessOptions,
  type QueueDepths,
  type QueueInspection,
  RetryLaterError,
} from "./queue.js";

interface MemoryJob<T> {
  id: string;
  data: T;
  attempt: number;
  createdAt: number;
  /** When it last entered the waiting list (ms since epoch). */
  waitingSince: number;
}

/**
 * The queue without Redis: jobs live in this process (lost with it, as its sessions are), with the same
 * attempts, backoff and retention as BullMQ's. Embedded mode runs one process, so its worker is inline.
 */
export function createMemoryQueue<T>(
  name: string,
  options: { backoffMs?: number; attempts?: number } = {},
): JobQueue<T> {
  const attempts = options.attempts ?? JOB_DEFAULTS.attempts;
  const backoffMs = options.backoffMs ?? JOB_DEFAULTS.backoff.delay;
  const waiting: MemoryJob<T>[] = [];
  const delayed = new Map<string, { job: MemoryJob<T>; timer: NodeJS.Timeout }>();
  const active = new Map<string, MemoryJob<T>>();
  let completed = 0;
  let failed = 0;
  let lastFailedAt: number | undefined;
  const retryingLater = new Map<string, string | undefined>(); // job id -> the RetryLaterError's reason
  let closed = false;
  const workers = new Set<{
    handler: JobHandler<T>;
    concurrency: number;
    running: number;
    closing: boolean;
    drained: () => void;
  }>();

  const known = (id: string) => active.has(id) || delayed.has(id) || waiting.some((j) => j.id === id);

  const pump = () => {
    for (const worker of workers) {
      while (!worker.closing && worker.running < worker.concurrency && waiting.length > 0) {
        run(worker, waiting.shift() as MemoryJob<T>);
      }
    }
  };

  const later = (job: MemoryJob<T>, delayMs: number) => {
    const timer = setTimeout(() => {
      delayed.delete(job.id);
      retryingLater.delete(job.id);
      job.waitingSince = Date.now();
      waiting.push(job);
      pump();
    }, delayMs);
    timer.unref();
    delayed.set(job.id, { job, timer });
  };

  const run = (
    worker: { handler: JobHandler<T>; running: number; closing: boolean; drained: () => void },
    job: MemoryJob<T>,
  ) => {
    worker.running++;
    active.set(job.id, job);
    worker
      .handler(job.data, { id: job.id, attempt: job.attempt, createdAt: job.createdAt })
      .then(
        () => {
          completed = Math.min(completed + 1, JOB_DEFAULTS.removeOnComplete);
        },
        (err: unknown) => {
          if (closed) return;
          if (err instanceof RetryLaterError) {
            retryingLater.set(job.id, err.reason);
            return later(job, err.delayMs);
          }
          if (job.attempt < attempts) {
            const delay = backoffMs * 2 ** (job.attempt - 1);
            job.attempt++;
            return later(job, delay);
          }
          failed = Math.min(failed + 1, JOB_DEFAULTS.removeOnFail);
          lastFailedAt = Date.now();
        },
      )
      .finally(() => {
        active.delete(job.id);
        worker.running--;
        if (worker.closing && worker.running === 0) worker.drained();
        pump();
      });
  };

  const depths = async (): Promise<QueueDepths> => ({
    waiting: waiting.length,
    active: active.size,
    delayed: delayed.size,
    failed,
    completed,
  });

  return {
    name,
    async add(data: T, opts: AddOptions = {}) {
      if (closed) throw new Error(`queue ${name} is closed`);
      const id = opts.jobId ?? randomUUID();
      if (opts.jobId && known(id)) return;
      const now = Date.now();
      const job: MemoryJob<T> = { id, data, attempt: 1, createdAt: now, waitingSince: now };
      if (opts.delayMs && opts.delayMs > 0) later(job, opts.delayMs);
      else {
        waiting.push(job);
        queueMicrotask(pump);
      }
    },
    process(handler: JobHandler<T>, opts: ProcessOptions = {}): JobWorker {
      const worker = {
        handler,
        concurrency: opts.concurrency ?? 1,
        running: 0,
        closing: false,
        drained: () => {},
      };
      workers.add(worker);
      queueMicrotask(pump);
      return {
        close: (timeoutMs = 5000) =>
          new Promise<void>((resolve) => {
            worker.closing = true;
            workers.delete(worker);
            if (worker.running === 0) return resolve();
            const timer = setTimeout(resolve, timeoutMs);
            timer.unref();
            worker.drained = () => {
              clearTimeout(timer);
              resolve();
            };
          }),
      };
    },
    depths,
    async inspect(): Promise<QueueInspection> {
      const oldest = waiting[0];
      const reason = [...retryingLater.values()].find((r) => r !== undefined);
      return {
        depths: await depths(),
        oldestWaitingMs: oldest ? Date.now() - oldest.waitingSince : undefined,
        retryingLater: retryingLater.size,
        ...(reason ? { retryReason: reason } : {}),
        lastFailedAt,
      };
    },
    async close() {
      closed = true;
      for (const { timer } of delayed.values()) clearTimeout(timer);
    },
  };
}
