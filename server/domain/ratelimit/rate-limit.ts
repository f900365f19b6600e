import type { Request, RequestHandler, Response } from "express";
import type { Logger } from "../../infra/logging/logger.js";
import { redisKeys } from "../../infra/redis/keys.js";
import { HttpError } from "../../lib/errors.js";
import type { RateLimitDecision, RateLimitStore } from "./store.js";

/** A policy that cannot work; thrown while the app is built, so a bad deploy fails at start-up. */
export class RateLimitConfigError extends Error {
  constructor(
    readonly code:
      | "rate_limit_invalid_name"
      | "rate_limit_invalid_limit"
      | "rate_limit_invalid_window"
      | "rate_limit_duplicate_policy",
    message: string,
  ) {
    super(message);
    this.name = "RateLimitConfigError";
  }
}

export interface PolicyOptions {
  /** Shown to clients in the RateLimit headers and used in the Redis key. */
  name: string;
  /** Units (requests, by default) allowed per window. */
  limit: number;
  windowSeconds: number;
}

export interface RateLimitOptions extends PolicyOptions {
  /** The subject to count against; `undefined` leaves the request unlimited by this policy. */
  key: (req: Request) => string | undefined;
  /** Units this request uses (default 1); 0 lets it through uncounted. */
  cost?: (req: Request) => number;
  skip?: (req: Request) => boolean;
  /** Lets the handler give this request's units back with {@link refundRequest} (a dependency failed). */
  refundable?: boolean;
}

const REFUNDS = Symbol("rateLimitRefunds");
type WithRefunds = Response & { [REFUNDS]?: Array<() => Promise<void>> };
const DEFERRED = Symbol("rateLimitDeferred");
type WithDeferred = Response & { [DEFERRED]?: Array<() => Promise<void>> };

/**
 * Counts the units a {@link RateLimiter.deferrable} middleware left to the handler for this request, and
 * throws the 429 past the limit; resolves at once when nothing was left (the middleware counted already).
 */
export async function enforceDeferred(res: Response): Promise<void> {
  const deferred = (res as WithDeferred)[DEFERRED];
  (res as WithDeferred)[DEFERRED] = undefined;
  for (const enforce of deferred ?? []) await enforce();
}

/**
 * Gives back the units `refundable` policies counted for this request: for a request a dependency failure
 * decided, which says nothing about the client. Never throws; a failed refund leaves the units counted.
 */
export async function refundRequest(res: Response): Promise<void> {
  const refunds = (res as WithRefunds)[REFUNDS];
  (res as WithRefunds)[REFUNDS] = undefined;
  if (refunds) await Promise.all(refunds.map((refund) => refund().catch(() => undefined)));
}

export interface RateLimitPolicy {
  readonly name: string;
  readonly limit: number;
  readonly windowSeconds: number;
  /** Counts `cost` units for `subject`; the decision says whether they fitted. */
  consume(subject: string, cost?: number): Promise<RateLimitDecision>;
  /**
   * Counts one unit and throws the 429 (carrying its Retry-After) when it does not fit, unless dry run;
   * `observe` sees the decision first.
   */
  enforce(subject: string, observe?: (decision: RateLimitDecision) => Promise<void>): Promise<void>;
  reset(subject: string): Promise<void>;
  /** Gives back `cost` units an allowed `consume`/`enforce` took (an attempt a dependency failure spoiled). */
  refund(subject: string, cost?: number): Promise<void>;
}

export interface RateLimiter {
  policy(options: PolicyOptions): RateLimitPolicy;
  /** The middleware: counts each request, sets the RateLimit headers, answers 429 past the limit. */
  rateLimit(options: RateLimitOptions): RequestHandler;
  /**
   * One policy, two middlewares: `now` is `rateLimit`; `deferring` leaves a request for which `defer`
   * holds uncounted, for the handler to count with {@link enforceDeferred} or to replace by another
   * budget once it knows more (a login that verified the browser's device cookie).
   */
  deferrable(options: RateLimitOptions & { defer: (req: Request) => boolean }): {
    now: RequestHandler;
    deferring: RequestHandler;
  };
}

const POLICY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const US_PER_S = 1_000_000;
const DRY_RUN_LOG_INTERVAL_MS = 1000;

export const retryAfterSeconds = (decision: RateLimitDecision) =>
  Math.max(1, Math.ceil(decision.retryAfterUs / US_PER_S));

/** The 429 for a wait of `seconds`; its `Retry-After` header is set where the error is answered. */
export function rateLimited(seconds: number): HttpError {
  return new HttpError("rate_limited", {
    message: `Too many requests; try again in ${seconds} second${seconds === 1 ? "" : "s"}`,
    details: { retryAfter: seconds },
    retryAfter: seconds,
  });
}

/**
 * Creates policies over one store. Keys are `${keyPrefix}:rl:{<policy>:<subject>}`: the braces are a hash tag,
 * so each check touches one slot and the script runs unchanged on Redis Cluster.
 */
export function createRateLimiter(deps: {
  store: RateLimitStore;
  keyPrefix: string;
  logger: Logger;
  /** Count and log, reject nothing. */
  dryRun?: boolean;
  /** Called once per rejected request (metrics). */
  onReject?: (policy: string) => void;
}): RateLimiter {
  const { store, logger } = deps;
  const keys = redisKeys(deps.keyPrefix);
  const dryRun = deps.dryRun ?? false;
  const names = new Set<string>();

  function define(options: PolicyOptions) {
    const { name, limit, windowSeconds } = options;
    if (!POLICY_NAME.test(name)) {
      throw new RateLimitConfigError(
        "rate_limit_invalid_name",
        `rate limit policy name "${name}" must be 1-64 letters, digits, '_', '.' or '-'`,
      );
    }
    if (!Number.isInteger(limit) || limit <= 0) {
      throw new RateLimitConfigError(
        "rate_limit_invalid_limit",
        `rate limit policy "${name}": limit must be a positive whole number (got ${limit})`,
      );
    }
    if (!Number.isInteger(windowSeconds) || windowSeconds <= 0) {
      throw new RateLimitConfigError(
        "rate_limit_invalid_window",
        `rate limit policy "${name}": windowSeconds must be a positive whole number (got ${windowSeconds})`,
      );
    }
    if (names.has(name)) {
      throw new RateLimitConfigError(
        "rate_limit_duplicate_policy",
        `rate limit policy "${name}" is defined twice; two policies under one name would share counters`,
      );
    }
    names.add(name);

    const key = (subject: string) => keys.rateLimit(name, subject);
    const windowUs = windowSeconds * US_PER_S;
    let lastDryRunLog = 0;
    let unlogged = 0;

    const consume = (subject: string, cost = 1) => store.consume(key(subject), limit, windowUs, cost);

    /** True when the request must be rejected; in dry run logs (at most once a second) and says no. */
    const rejects = (decision: RateLimitDecision, subject: string): boolean => {
      if (decision.allowed) return false;
      if (!dryRun) {
        deps.onReject?.(name);
        return true;
      }
      unlogged++;
      const now = Date.now();
      if (now - lastDryRunLog >= DRY_RUN_LOG_INTERVAL_MS) {
        logger.warn(
          { component: "ratelimit", policy: name, subject, wouldReject: unlogged },
          "rate limit exceeded (dry run: let through)",
        );
        lastDryRunLog = now;
        unlogged = 0;
      }
      return false;
    };

    const limiter: RateLimitPolicy = {
      name,
      limit,
      windowSeconds,
      consume,
      async enforce(subject, observe) {
        const decision = await consume(subject);
        await observe?.(decision);
        if (!rejects(decision, subject)) return;
        throw rateLimited(retryAfterSeconds(decision));
      },
      reset: (subject) => store.reset(key(subject)),
      refund: (subject, cost = 1) => store.refund(key(subject), limit, windowUs, cost),
    };
    return { limiter, rejects };
  }

  const policy = (options: PolicyOptions) => define(options).limiter;

  function rateLimit(options: RateLimitOptions): RequestHandler {
    return middleware(define(options), options);
  }

  function deferrable(options: RateLimitOptions & { defer: (req: Request) => boolean }) {
    const defined = define(options);
    return { now: middleware(defined, options), deferring: middleware(defined, options, options.defer) };
  }

  function middleware(
    { limiter, rejects }: ReturnType<typeof define>,
    options: RateLimitOptions,
    defer?: (req: Request) => boolean,
  ): RequestHandler {
    const { key, cost, skip, refundable } = options;
    const policyHeader = `"${limiter.name}";q=${limiter.limit};w=${limiter.windowSeconds}`;

    return (req, res, next) => {
      if (skip?.(req)) return next();
      const subject = key(req);
      if (subject === undefined) return next();
      const units = cost ? Math.ceil(cost(req)) : 1;
      if (!(units > 0)) return next();
      if (defer?.(req)) {
        const holder = res as WithDeferred;
        holder[DEFERRED] = [
          ...(holder[DEFERRED] ?? []),
          async () => {
            const decision = await limiter.consume(subject, units);
            if (rejects(decision, subject)) throw rateLimited(retryAfterSeconds(decision));
            if (refundable && decision.allowed) {
              const refunds = res as WithRefunds;
              refunds[REFUNDS] = [...(refunds[REFUNDS] ?? []), () => limiter.refund(subject, units)];
            }
          },
        ];
        return next();
      }
      limiter.consume(subject, units).then((decision) => {
        // Several policies on one request each add an item: both fields are Structured Field Lists.
        if (!dryRun) {
          res.append(
            "RateLimit-Policy",
            decision.limit === limiter.limit
              ? policyHeader
              : `"${limiter.name}";q=${decision.limit};w=${limiter.windowSeconds}`,
          );
          res.append(
            "RateLimit",
            `"${limiter.name}";r=${decision.remaining};t=${Math.ceil(decision.resetUs / US_PER_S)}`,
          );
        }
        if (!rejects(decision, subject)) {
          if (refundable && decision.allowed) {
            const holder = res as WithRefunds;
            holder[REFUNDS] = [...(holder[REFUNDS] ?? []), () => limiter.refund(subject, units)];
          }
          return next();
        }
        next(rateLimited(retryAfterSeconds(decision)));
      }, next);
    };
  }

  return { policy, rateLimit, deferrable };
}
