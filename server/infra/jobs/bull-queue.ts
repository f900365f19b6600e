import { DelayedError, type Job, Queue, Worker } from "bullmq";
import type { RedisConfig } from "../../config/config.js";
import { DependencyUnavailableError } from "../../lib/errors.js";
import { within } from "../../lib/within.js";
import type { Logger } from "../logging/logger.js";
import { createRepeatLog } from "../logging/repeat-log.js";
import { redisKeys } from "../redis/keys.js";
import { connectRedis, createRedisClient } from "../redis/redis-client.js";
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

export interface BullQueueOptions {
  redis: RedisConfig;
  keyPrefix: string;
  /** QUEUE_STALLED_MS: a worker's lock on a job lasts this long, and stalled jobs are looked for this often. */
  stalledMs: number;
  logger: Logger;
  /** First retry delay (ms); JOB_DEFAULTS' otherwise. */
  backoffMs?: number;
}

/**
 * Marks a job whose last run ended with a RetryLaterError (its `progress`: this, or this, ": " and the
 * error's reason), so health can count them and say why.
 */
const RETRY_LATER = "retry-later";
const isRetryingLater = (progress: unknown) =>
  typeof progress === "string" && progress.startsWith(RETRY_LATER);

// A job whose worker died is run again; past this many deaths it is failed, so one mail that crashes every
// worker cannot keep them all busy for ever.
const MAX_STALLED = 5;

const DEPTH_STATES = ["waiting", "active", "delayed", "failed", "completed"] as const;

/**
 * The queue on Redis with BullMQ: jobs outlive this process and any process may run them. `add` and the
 * depths use a fail-fast connection (they answer within the Redis command timeout or reject, so a request
 * answers 503 rather than hang); each worker gets a waiting connection of its own (BullMQ's blocking
 * commands need `maxRetriesPerRequest: null`). Every key lives under the hash-tagged `{<prefix>:jobs}`,
 * which keeps a queue's keys, and so its Lua scripts, on one Redis Cluster slot.
 */
export async function createBullQueue<T>(name: string, options: BullQueueOptions): Promise<JobQueue<T>> {
  const { redis: config, stalledMs, logger } = options;
  const prefix = redisKeys(options.keyPrefix).jobs;
  const timeoutMs = config.commandTimeoutMs;
  const log = logger.child({ component: "queue", queue: name });
  const errors = createRepeatLog(log);
  const backoff = { ...JOB_DEFAULTS.backoff, delay: options.backoffMs ?? JOB_DEFAULTS.backoff.delay };

  const producer = createRedisClient(config, logger, `queue:${name}`);
  await connectRedis(producer, logger);

  // Built once the producer is ready: BullMQ's own start (INFO, script loading) failing against a Redis that
  // was down would leave it rejecting for good, so a queue whose start failed is dropped and built again.
  let queue: Queue | undefined;
  let closed = false;
  const current = (): Queue => {
    if (closed) throw new Error(`queue ${name} is closed`);
    if (producer.status !== "ready") {
      throw new DependencyUnavailableError("redis", new Error("Connection is closed."));
    }
    if (queue) return queue;
    const made = new Queue(name, { connection: producer, prefix, skipVersionCheck: true });
    made.on("error", (err) => errors.report(err.message, "warn", { err: err.message }, "queue error"));
    made.waitUntilReady().catch(() => {
      if (queue === made) queue = undefined;
      void made.close().catch(() => undefined);
    });
    queue = made;
    return made;
  };
  // Every call a request or a probe makes answers within the command timeout: a frozen Redis rejects.
  const bounded = async <R>(run: (q: Queue) => Promise<R>): Promise<R> => {
    try {
      return await within(
        Promise.resolve().then(() => run(current())),
        timeoutMs,
      );
    } catch (err) {
      if (err instanceof DependencyUnavailableError) throw err;
      throw new DependencyUnavailableError("redis", err);
    }
  };

  const depths = () =>
    bounded(async (q): Promise<QueueDepths> => {
      const counts = await q.getJobCounts(...DEPTH_STATES);
      return Object.fromEntries(DEPTH_STATES.map((s) => [s, counts[s] ?? 0])) as unknown as QueueDepths;
    });

  const workers = new Set<Worker>();

  return {
    name,
    async add(data: T, opts: AddOptions = {}) {
      await bounded((q) =>
        q.add(name, data, {
          ...JOB_DEFAULTS,
          backoff,
          ...(opts.delayMs ? { delay: opts.delayMs } : {}),
          // Deduplicated only while the first is waiting, delayed or running, like the memory queue.
          ...(opts.jobId ? { deduplication: { id: opts.jobId } } : {}),
        }),
      );
    },

    process(handler: JobHandler<T>, opts: ProcessOptions = {}): JobWorker {
      const connection = createRedisClient(config, logger, `queue:${name}:worker`, {
        // Blocking reads wait for jobs: no command timeout, no stall detection by silence, and commands wait
        // for a reconnect instead of failing (BullMQ retries its own loop).
        maxRetriesPerRequest: null,
        enableOfflineQueue: true,
        commandTimeout: undefined,
        socketTimeout: undefined,
        autoResendUnfulfilledCommands: true,
        enableAutoPipelining: false,
      });
      const worker = new Worker<T>(
        name,
        async (job: Job<T>, token?: string) => {
          try {
            await handler(job.data, {
              id: job.id ?? "",
              attempt: job.attemptsMade + 1,
              createdAt: job.timestamp,
            });
          } catch (err) {
            if (!(err instanceof RetryLaterError)) {
              if (isRetryingLater(job.progress)) await job.updateProgress(0).catch(() => undefined);
              throw err;
            }
            // Only read by health: failing to write it must not cost the job an attempt.
            const marker = err.reason ? `${RETRY_LATER}: ${err.reason.slice(0, 200)}` : RETRY_LATER;
            await job.updateProgress(marker).catch(() => undefined);
            await job.moveToDelayed(Date.now() + err.delayMs, token);
            // Tells BullMQ the job was moved on purpose: no attempt used, no failure recorded.
            throw new DelayedError();
          }
        },
        {
          connection,
          prefix,
          concurrency: opts.concurrency ?? 1,
          lockDuration: stalledMs,
          stalledInterval: stalledMs,
          maxStalledCount: MAX_STALLED,
          skipVersionCheck: true,
        },
      );
      worker.on("error", (err) =>
        errors.report(err.message, "warn", { err: err.message }, "queue worker error"),
      );
      worker.on("failed", (job, err) => {
        if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
          log.error({ jobId: job.id, attempts: job.attemptsMade, err: err.message }, "job failed for good");
        }
      });
      workers.add(worker);
      return {
        async close(timeoutMs = 5000) {
          workers.delete(worker);
          const closing = worker.close();
          const finished = await within(closing, timeoutMs).then(
            () => true,
            () => false,
          );
          if (!finished) {
            // The job still running keeps its lock until it runs out; then another worker runs it again.
            log.warn({ timeoutMs }, "worker closed with a job still running");
            await within(worker.disconnect(), timeoutMs).catch(() => undefined);
          }
          connection.disconnect();
        },
      };
    },

    depths,

    async inspect(): Promise<QueueInspection> {
      const [counts, oldest, newestFailed, delayedJobs] = await Promise.all([
        depths(),
        bounded((q) => q.getJobs(["wait"], 0, 0, true)),
        bounded((q) => q.getJobs(["failed"], 0, 0, false)),
        bounded((q) => q.getJobs(["delayed"], 0, 99, true)),
      ]);
      const first = oldest[0];
      const waitingSince = first
        ? first.attemptsStarted === 0
          ? first.timestamp + (first.opts.delay ?? 0)
          : (first.processedOn ?? first.timestamp) + (first.delay ?? 0)
        : undefined;
      const retrying = delayedJobs.filter((j) => isRetryingLater(j.progress));
      const reason = retrying
        .map((j) => String(j.progress).slice(RETRY_LATER.length + 2))
        .find((r) => r.length > 0);
      return {
        depths: counts,
        oldestWaitingMs: waitingSince === undefined ? undefined : Math.max(0, Date.now() - waitingSince),
        retryingLater: retrying.length,
        ...(reason ? { retryReason: reason } : {}),
        lastFailedAt: newestFailed[0]?.finishedOn,
      };
    },

    async close() {
      closed = true;
      await queue?.close().catch(() => undefined);
      producer.disconnect();
      errors.close();
    },
  };
}
