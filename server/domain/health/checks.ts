import type { Database } from "../../infra/db/database.js";
import type { JobQueue, QueueInspection } from "../../infra/jobs/queue.js";
import { connectedAddress, type Redis } from "../../infra/redis/redis-client.js";
import { summedInfo } from "../../infra/redis/redis-info.js";
import { reasonCode, shortReason } from "../../lib/failure-reason.js";
import { type CheckResult, elapsedMs } from "./shared-check.js";

export { reasonCode, shortReason };

const HEALTH_KEY_TTL_MS = 10_000;

const BYTES_PER_MB = 1024 * 1024;

function failed(startedAt: number, err: unknown): CheckResult {
  const error = shortReason(err);
  return { status: "unhealthy", latency_ms: elapsedMs(startedAt), error, reason: reasonCode(error) };
}

/** `SELECT 1` on the pool: proves a connection can be had and the server answers. */
export async function checkDatabase(db: Database): Promise<CheckResult> {
  const startedAt = performance.now();
  try {
    await db.query("SELECT 1");
    return { status: "healthy", latency_ms: elapsedMs(startedAt) };
  } catch (err) {
    return failed(startedAt, err);
  }
}

const trackers = new WeakMap<Redis, () => unknown>();

/**
 * Remembers the last connection error of a client until it is ready again, so "not connected" can say
 * why. One tracker per client: call it before `connect` to catch the boot error too.
 */
export function trackRedisErrors(redis: Redis): () => unknown {
  const known = trackers.get(redis);
  if (known) return known;
  let last: unknown;
  redis.on("error", (err: unknown) => {
    last = err;
  });
  redis.on("ready", () => {
    last = undefined;
  });
  const tracker = () => last;
  trackers.set(redis, tracker);
  return tracker;
}

function notConnected(lastError: () => unknown): CheckResult {
  const cause = lastError();
  const error = cause ? shortReason(cause) : "not connected";
  // "unavailable" says less than "not connected" does.
  const shown = error === "unavailable" ? "not connected" : error;
  return { status: "unhealthy", latency_ms: 0, error: shown, reason: reasonCode(shown) };
}

/**
 * A short-lived `SET` under the key prefix on the app's own client, so the probe sees what requests see:
 * a Redis that answers PING but refuses writes (OOM at maxmemory, a read-only replica, MISCONF) fails it.
 */
export async function checkRedis(
  redis: Redis,
  healthKey: string,
  lastError: () => unknown,
): Promise<CheckResult> {
  const startedAt = performance.now();
  // Without the offline queue a command would fail anyway; the last connection error says why.
  if (redis.status !== "ready") return notConnected(lastError);
  try {
    await redis.set(healthKey, "1", "PX", HEALTH_KEY_TTL_MS);
    return { status: "healthy", latency_ms: elapsedMs(startedAt) };
  } catch (err) {
    return failed(startedAt, err);
  }
}

export interface RedisDetail extends CheckResult {
  connected: boolean;
  used_memory_bytes?: number;
  /** With Sentinel: `host:port` of the primary the client is connected to. */
  primary?: string;
}

/** The write probe for the latency, then `INFO memory` for the footprint (summed over a cluster's masters). */
export async function checkRedisDetail(
  redis: Redis,
  healthKey: string,
  lastError: () => unknown,
): Promise<RedisDetail> {
  const startedAt = performance.now();
  const result = await checkRedis(redis, healthKey, lastError);
  const connected = redis.status === "ready";
  if (result.status !== "healthy") return { ...result, connected };
  try {
    const info = await summedInfo(redis, "memory");
    const primary =
      "sentinels" in redis.options && redis.options.sentinels ? connectedAddress(redis) : undefined;
    return {
      ...result,
      connected,
      used_memory_bytes: info.used_memory ?? 0,
      ...(primary ? { primary } : {}),
    };
  } catch (err) {
    return { ...failed(startedAt, err), connected };
  }
}

export function formatMb(bytes: number): string {
  return `${(bytes / BYTES_PER_MB).toFixed(2)}MB`;
}

/** `GET {baseUrl}/models` with the key: the cheapest call that proves both reachability and the key. */
export async function checkOpenAI(
  openai: { apiKey: string; baseUrl: string },
  signal: AbortSignal,
): Promise<CheckResult> {
  const startedAt = performance.now();
  try {
    const res = await fetch(`${openai.baseUrl}/models`, {
      headers: { authorization: `Bearer ${openai.apiKey}`, accept: "application/json" },
      redirect: "manual",
      signal,
    });
    // The model list is not needed; release the connection without reading it.
    await res.body?.cancel().catch(() => undefined);
    if (res.ok) return { status: "healthy", latency_ms: elapsedMs(startedAt) };
    const reason =
      res.status === 401 || res.status === 403
        ? `API key rejected (HTTP ${res.status})`
        : res.status === 429
          ? "rate limited (HTTP 429)"
          : `HTTP ${res.status}`;
    const code =
      res.status === 401 || res.status === 403
        ? "api_key_rejected"
        : res.status === 429
          ? "rate_limited"
          : "http_error";
    return { status: "unhealthy", latency_ms: elapsedMs(startedAt), error: reason, reason: code };
  } catch (err) {
    const reason = shortReason(err);
    const error = reason === "unavailable" ? "unreachable" : reason;
    return { status: "unhealthy", latency_ms: elapsedMs(startedAt), error, reason: reasonCode(error) };
  }
}

/** A job waiting longer than this means no worker takes the jobs (one takes a waiting job within ms). */
export const QUEUE_WAITING_ALERT_MS = 60_000;
/** A job that failed for good within this window counts as the queue failing now. */
export const QUEUE_FAILED_WINDOW_MS = 15 * 60_000;

/**
 * A job queue: unhealthy (never required, so the whole answer is at worst degraded) when its Redis cannot
 * be read, a job waits with no worker taking it, a job is waiting to retry because a dependency (SMTP)
 * refused it, or a job failed for good in the last 15 minutes.
 */
export async function checkQueue(queue: Pick<JobQueue<unknown>, "inspect">): Promise<CheckResult> {
  const startedAt = performance.now();
  let seen: QueueInspection;
  try {
    seen = await queue.inspect();
  } catch (err) {
    return failed(startedAt, err);
  }
  const latency_ms = elapsedMs(startedAt);
  const trouble = (error: string, reason: string): CheckResult => ({
    status: "unhealthy",
    latency_ms,
    error,
    reason,
  });
  if (seen.oldestWaitingMs !== undefined && seen.oldestWaitingMs > QUEUE_WAITING_ALERT_MS) {
    return trouble(
      `a job has waited ${Math.round(seen.oldestWaitingMs / 1000)} s: no worker is taking jobs`,
      "no_worker",
    );
  }
  if (seen.retryingLater > 0) {
    const why = seen.retryReason ?? "a dependency refused them";
    return trouble(`${seen.retryingLater} job(s) waiting to retry: ${why}`, "retrying");
  }
  if (seen.lastFailedAt !== undefined && Date.now() - seen.lastFailedAt < QUEUE_FAILED_WINDOW_MS) {
    return trouble("a job failed after its last attempt in the last 15 minutes", "jobs_failed");
  }
  return { status: "healthy", latency_ms };
}
