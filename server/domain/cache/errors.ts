/**
 * Every error the cache raises, each with its code from the error catalog (CACHE_ERROR_CODES), which the
 * request log names when such an error fails a request. The original failure, when there is one, is kept
 * as `cause`.
 */
import type { CacheErrorCode } from "../../lib/error-catalog.js";

export class CacheError extends Error {
  static readonly code: CacheErrorCode = "cache_error";
  get code(): CacheErrorCode {
    return (this.constructor as typeof CacheError).code;
  }
}

/** A category or key the cache refuses (bad characters, too long, not configured). */
export class CacheKeyError extends CacheError {
  static override readonly code: CacheErrorCode = "cache_invalid_key";
  constructor(message: string) {
    super(message);
    this.name = "CacheKeyError";
  }
}

export class UnknownCategoryError extends CacheKeyError {
  static override readonly code: CacheErrorCode = "cache_unknown_category";
  constructor(category: string, known: readonly string[]) {
    super(`unknown cache category ${JSON.stringify(category)} (known: ${known.join(", ")})`);
    this.name = "UnknownCategoryError";
  }
}

export class CacheLoaderTimeoutError extends CacheError {
  static override readonly code: CacheErrorCode = "cache_loader_timeout";
  constructor(timeoutMs: number) {
    super(`cache loader took longer than ${timeoutMs} ms`);
    this.name = "CacheLoaderTimeoutError";
  }
}

/** L2 calls are skipped while the circuit breaker is open. */
export class CircuitOpenError extends CacheError {
  static override readonly code: CacheErrorCode = "cache_l2_circuit_open";
  constructor() {
    super("L2 calls are paused by the cache circuit breaker");
    this.name = "CircuitOpenError";
  }
}

export class CallTimeoutError extends CacheError {
  static override readonly code: CacheErrorCode = "cache_l2_timeout";
  constructor(timeoutMs: number) {
    super(`L2 call took longer than ${timeoutMs} ms`);
    this.name = "CallTimeoutError";
  }
}
