/**
 * A durable job queue: BullMQ on Redis (jobs survive this process, any process may run them) or, without
 * Redis, this process' memory. Both keep the same options and the same promises (tests/helpers/job-queue-contract-suite.ts).
 */
export interface JobQueue<T> {
  /** The queue's name (metrics label, BullMQ queue name). */
  readonly name: string;
  /**
   * Stores the job; resolves once it is durable (on Redis: written). A `jobId` already waiting, delayed
   * or active makes this a no-op, so a retried request cannot queue the same mail twice.
   */
  add(data: T, options?: AddOptions): Promise<void>;
  /** Runs `handler` on this process' share of the jobs until the returned worker is closed. */
  process(handler: JobHandler<T>, options?: ProcessOptions): JobWorker;
  /** How many jobs are in each state (a failed read rejects: the health check reports it). */
  depths(): Promise<QueueDepths>;
  /** The depths and the signs of trouble the health check reads (a failed read rejects). */
  inspect(): Promise<QueueInspection>;
  /** Stops accepting jobs and closes the queue's own connections (not the workers'). */
  close(): Promise<void>;
}

export interface AddOptions {
  jobId?: string;
  delayMs?: number;
}

export interface ProcessOptions {
  /** Jobs run at once by this worker (default 1). */
  concurrency?: number;
}

export interface JobContext {
  id: string;
  /** 1 on the first run; a `RetryLaterError` does not count as an attempt. */
  attempt: number;
  /** When the job was added (ms since epoch). */
  createdAt: number;
}

/** Throws to fail the attempt (retried with backoff until `attempts` are used) or a RetryLaterError. */
export type JobHandler<T> = (data: T, job: JobContext) => Promise<void>;

export interface JobWorker {
  /** Lets the running jobs finish (bounded by `timeoutMs`), then stops taking new ones. */
  close(timeoutMs?: number): Promise<void>;
}

export interface QueueDepths {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

export interface QueueInspection {
  depths: QueueDepths;
  /** How long the oldest waiting job has waited (ms); undefined when none waits. */
  oldestWaitingMs?: number;
  /** Delayed jobs whose last run ended with a RetryLaterError (a dependency was down). */
  retryingLater: number;
  /** The `reason` of one of those RetryLaterErrors, when it gave one. */
  retryReason?: string;
  /** When the newest failed job failed for good (ms since epoch); undefined when none is kept. */
  lastFailedAt?: number;
}

/**
 * A failure that says nothing about the job (the SMTP server is down, a dependency times out): the job is
 * run again after `delayMs` without using one of its attempts, so an outage of any length loses nothing.
 */
export class RetryLaterError extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
    /** Why, short and safe to show in health (no addresses, no paths). */
    readonly reason?: string,
  ) {
    super(message);
    this.name = "RetryLaterError";
  }
}

/** The options the guides use, kept by both implementations. */
export const JOB_DEFAULTS = {
  attempts: 3,
  backoff: { type: "exponential" as const, delay: 2000 },
  removeOnComplete: 100,
  removeOnFail: 50,
};
