import type { Database } from "../db/database.js";
import type { Redis } from "../redis/redis-client.js";
import { summedInfo } from "../redis/redis-info.js";
import { type CheckResult, elapsedMs } from "./shared-check.js";

const BYTES_PER_MB = 1024 * 1024;

/** A reason short and generic enough for a public probe: no host names, ports or credentials. */
export function shortReason(err: unknown): string {
  let e = err as { code?: string; message?: string; name?: string; cause?: unknown } | undefined;
  // DependencyUnavailableError and fetch's TypeError keep the underlying error as their cause.
  if (e?.cause && typeof e.cause === "object" && (!e.code || e.name === "DependencyUnavailableError")) {
    e = e.cause as typeof e;
  }
  const code = e?.code ?? "";
  const message = e?.message ?? "";
  if (e?.name === "TimeoutError" || e?.name === "AbortError" || /timed? ?out/i.test(message))
    return "timed out";
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found";
  if (code === "ECONNRESET" || code === "EPIPE" || /Connection terminated/i.test(message))
    return "connection lost";
  if (/isn't writeable|Connection is closed/.test(message)) return "not connected";
  if (code === "28P01" || code === "28000" || /^(NOAUTH|WRONGPASS)/.test(message))
    return "authentication failed";
  if (message.startsWith("LOADING")) return "loading its dataset";
  if (code === "3D000") return "database does not exist";
  return "unavailable";
}

function failed(startedAt: number, err: unknown): CheckResult {
  return { status: "unhealthy", latency_ms: elapsedMs(startedAt), error: shortReason(err) };
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

/** `PING` on the app's own client, so the probe sees what requests see. */
export async function checkRedis(redis: Redis): Promise<CheckResult> {
  const startedAt = performance.now();
  // Without the offline queue a command would fail anyway; saying so is clearer than the driver's message.
  if (redis.status !== "ready") return { status: "unhealthy", latency_ms: 0, error: "not connected" };
  try {
    await redis.ping();
    return { status: "healthy", latency_ms: elapsedMs(startedAt) };
  } catch (err) {
    return failed(startedAt, err);
  }
}

export interface RedisDetail extends CheckResult {
  connected: boolean;
  used_memory_bytes?: number;
}

/** `PING` for the latency, then `INFO memory` for the footprint (summed over a cluster's masters). */
export async function checkRedisDetail(redis: Redis): Promise<RedisDetail> {
  const startedAt = performance.now();
  if (redis.status !== "ready") {
    return { status: "unhealthy", connected: false, latency_ms: 0, error: "not connected" };
  }
  try {
    await redis.ping();
    const latency = elapsedMs(startedAt);
    const info = await summedInfo(redis, "memory");
    return {
      status: "healthy",
      connected: true,
      latency_ms: latency,
      used_memory_bytes: info.used_memory ?? 0,
    };
  } catch (err) {
    return { ...failed(startedAt, err), connected: redis.status === "ready" };
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
    return { status: "unhealthy", latency_ms: elapsedMs(startedAt), error: reason };
  } catch (err) {
    const reason = shortReason(err);
    return {
      status: "unhealthy",
      latency_ms: elapsedMs(startedAt),
      error: reason === "unavailable" ? "unreachable" : reason,
    };
  }
}
