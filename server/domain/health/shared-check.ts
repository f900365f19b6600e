export type CheckStatus = "healthy" | "unhealthy" | "not_configured";

export interface CheckResult {
  status: CheckStatus;
  latency_ms: number;
  /** Short reason, safe to show on a public probe (no host, no credentials). */
  error?: string;
  /** Stable snake_case code for `error` (`out_of_memory`, `authentication_failed`, `host_not_found`, ...). */
  reason?: string;
}

export interface SharedCheckOptions {
  /** Each caller gets an answer within this bound (ms), whatever the dependency does. */
  timeoutMs: number;
  /** Reuse a finished result for this long (ms); 0 runs the check for every caller that is not joining one. */
  cacheMs?: number;
}

/** Rounds to hundredths of a millisecond, as the probes report latencies. */
export function elapsedMs(startedAt: number): number {
  return Math.round((performance.now() - startedAt) * 100) / 100;
}

/**
 * Wraps a dependency check so a crowd of probes costs one check: callers that arrive while one runs join
 * it (single-flight), and each caller races it against its own timer. The run itself is not restarted
 * while it is still pending, so a black-holed dependency never accumulates stuck checks. `run` gets a
 * signal that aborts at the bound, for checks that can be cancelled (HTTP).
 */
export function createSharedCheck<T extends CheckResult>(
  run: (signal: AbortSignal) => Promise<T>,
  options: SharedCheckOptions,
): () => Promise<T | CheckResult> {
  const { timeoutMs, cacheMs = 0 } = options;
  let inflight: Promise<T | CheckResult> | undefined;
  let cached: { result: T | CheckResult; at: number } | undefined;

  const start = () => {
    const startedAt = performance.now();
    const promise = Promise.resolve()
      .then(() => run(AbortSignal.timeout(timeoutMs)))
      // A check is written not to throw; this keeps a bug in one from rejecting every probe.
      .catch(
        (): CheckResult => ({
          status: "unhealthy",
          latency_ms: elapsedMs(startedAt),
          error: "check failed",
          reason: "check_failed",
        }),
      )
      .then((result) => {
        inflight = undefined;
        if (cacheMs > 0) cached = { result, at: Date.now() };
        return result;
      });
    inflight = promise;
    return promise;
  };

  return () => {
    if (cached && Date.now() - cached.at < cacheMs) return Promise.resolve(cached.result);
    const pending = inflight ?? start();
    return new Promise((resolve) => {
      const timer = setTimeout(
        () =>
          resolve({
            status: "unhealthy",
            latency_ms: timeoutMs,
            error: `timed out after ${timeoutMs} ms`,
            reason: "timed_out",
          }),
        timeoutMs,
      );
      // `pending` never rejects, so a late answer is simply dropped.
      void pending.then((result) => {
        clearTimeout(timer);
        resolve(result);
      });
    });
  };
}
