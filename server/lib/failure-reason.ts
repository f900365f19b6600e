import { DEPENDENCY_REASONS, type DependencyReason } from "./error-catalog.js";

type ErrorLike = { code?: string; message?: string; name?: string; cause?: unknown; lastNodeError?: unknown };

/**
 * Why a dependency call failed, as a catalog reason: the one mapping from Redis, PostgreSQL and fetch
 * failures to words, used by the health checks, the metrics probe and the Redis client's log lines.
 */
export function failureReason(err: unknown): DependencyReason {
  let e = err as ErrorLike | undefined;
  // DependencyUnavailableError and fetch's TypeError keep the underlying error as their cause.
  if (e?.cause && typeof e.cause === "object" && (!e.code || e.name === "DependencyUnavailableError")) {
    e = e.cause as ErrorLike;
  }
  // ioredis Cluster wraps the node's own error ("Failed to refresh slots cache").
  if (e?.lastNodeError && typeof e.lastNodeError === "object") e = e.lastNodeError as ErrorLike;
  const code = e?.code ?? "";
  const message = e?.message ?? "";
  if (e?.name === "TimeoutError" || e?.name === "AbortError" || /timed? ?out/i.test(message))
    return "timed_out";
  if (code === "ECONNREFUSED") return "connection_refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host_not_found";
  if (code === "ECONNRESET" || code === "EPIPE" || /Connection terminated/i.test(message))
    return "connection_lost";
  if (/isn't writeable|Connection is closed/.test(message)) return "not_connected";
  if (
    code === "28P01" ||
    code === "28000" ||
    /^(NOAUTH|WRONGPASS|ERR AUTH|ERR invalid password)/.test(message)
  )
    return "authentication_failed";
  if (message.startsWith("LOADING")) return "loading";
  if (message.startsWith("OOM")) return "out_of_memory";
  if (message.startsWith("READONLY")) return "read_only";
  if (message.startsWith("MISCONF")) return "persistence_failing";
  if (/^(CLUSTERDOWN|MASTERDOWN|TRYAGAIN)/.test(message)) return "cluster_unavailable";
  if (code === "3D000") return "database_missing";
  return "unavailable";
}

/** A reason short and generic enough for a public probe: no host names, ports or credentials. */
export function shortReason(err: unknown): string {
  return DEPENDENCY_REASONS[failureReason(err)];
}

const CODES_BY_TEXT = new Map<string, string>(
  Object.entries(DEPENDENCY_REASONS).map(([code, text]) => [text, code]),
);

/** The catalog code for a short reason (`timed out after 500 ms` → `timed_out`). */
export function reasonCode(error: string): string {
  if (error.startsWith("timed out")) return "timed_out";
  return (
    CODES_BY_TEXT.get(error) ??
    (error
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "_")
      .replace(/^_|_$/g, "") ||
      "unavailable")
  );
}
