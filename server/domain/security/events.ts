import { AsyncLocalStorage } from "node:async_hooks";
import { createHmac } from "node:crypto";
import type { Request, RequestHandler, Response } from "express";
import { LRUCache } from "lru-cache";
import { Counter, type Registry } from "prom-client";
import { normalizeEmail } from "../../../shared/validation.js";
import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";
import { describeDevice } from "../../lib/user-agent.js";
import type { ActivityStore } from "./activity-store.js";

/** Every event the security log records, in the words of the log line's `event` field. */
export const SECURITY_EVENTS = [
  "login_succeeded",
  "login_failed",
  "login_locked",
  "login_refused_disabled",
  "lockout_cleared",
  "password_changed",
  "reauthenticated",
  "password_reset",
  "email_change_requested",
  "email_changed",
  "session_revoked",
  "other_sessions_revoked",
  "logged_out",
  "csrf_refused",
  "rate_limited",
  "mfa_enabled",
  "mfa_disabled",
  "mfa_failed",
  "recovery_code_used",
  "recovery_codes_regenerated",
  "passkey_added",
  "passkey_removed",
  "second_factors_reset",
  "admin_action",
  "account_deleted",
  "account_exported",
  "identity_linked",
  "identity_unlinked",
  "personal_token_created",
  "personal_token_revoked",
] as const;

export type SecurityEventName = (typeof SECURITY_EVENTS)[number];

/** What the caller knows; the client address, user agent and request id come from the request itself. */
export interface SecurityEventInput {
  userId?: string;
  /** The email as typed: logged only as a keyed hash, and used to find the account it names. */
  email?: string;
  /** The rate-limit policy that refused the request. */
  policy?: string;
  /** Sessions ended. */
  count?: number;
  /** What an admin did (`admin_action`), e.g. `disable`, `revoke_sessions`, `group_added`. */
  action?: string;
  /** The account an admin acted on; the event itself belongs to the admin (`userId`). */
  target?: string;
  /** `api_key` when ADMIN_API_KEY did it, `self` or `admin` for a deletion; who reset second factors. */
  actor?: string;
  /** A group added or removed. */
  group?: string;
  /** The sign-in provider (a provider sign-in, a linked identity). */
  provider?: string;
  /** A personal access token's id (as in `GET /auth/tokens`), never the token. */
  tokenId?: string;
}

/** One recorded event: what the log line holds and what a user's activity list keeps. */
export interface SecurityEvent {
  at: string;
  event: SecurityEventName;
  userId?: string;
  /** HMAC-SHA256 of the normalised email, keyed with the session secret (never the email itself). */
  emailHash?: string;
  ip?: string;
  device?: string;
  userAgent?: string;
  requestId?: string;
  policy?: string;
  count?: number;
  action?: string;
  target?: string;
  actor?: string;
  group?: string;
  provider?: string;
  tokenId?: string;
}

export interface SecurityEvents {
  /** Logs, counts and stores the event after the fact; never throws, never delays the request. */
  record(event: SecurityEventName, input?: SecurityEventInput): void;
  /** The user's recent events, newest first. */
  recent(userId: string): Promise<SecurityEvent[]>;
  /** Makes the request's address, user agent and id available to `record` calls made while serving it. */
  context(): RequestHandler;
  /** Resolves once every recording started so far has finished (tests, shutdown). */
  settled(): Promise<void>;
  /** Drops the user's stored list (a deleted account); the log lines stay. */
  forget(userId: string): Promise<void>;
}

const USER_AGENT_MAX = 256; // characters logged
/** Events that leave a failed-attempt counter behind; a successful login after one of them clears it. */
const FAILURES: ReadonlySet<SecurityEventName> = new Set(["login_failed", "login_locked"]);

/** Logged and counted, never kept in the user's list: a busy client would push everything else out. */
const UNLISTED: ReadonlySet<SecurityEventName> = new Set(["rate_limited", "account_deleted"]);
/** A failure repeating the user's newest one (same event, same address) within this is logged, not listed. */
const REPEAT_WINDOW_MS = 60_000;
/** How long an email's account (or its absence) is remembered, so a flood of failures costs few queries. */
const LOOKUP_TTL_MS = 60_000;
const LOOKUP_MAX = 10_000; // emails

function isRepeat(last: SecurityEvent, event: SecurityEvent): boolean {
  return (
    last.event === event.event &&
    last.ip === event.ip &&
    Date.parse(event.at) - Date.parse(last.at) < REPEAT_WINDOW_MS
  );
}

const requestContext = new AsyncLocalStorage<{ req: Request; res: Response }>();

/** The security event log: one JSON line per event, a Prometheus counter, a bounded list per user. */
export function createSecurityEvents(deps: {
  logger: Logger;
  store: ActivityStore;
  /** The key of the email hash (the first session secret). */
  hashKey: string;
  /** How many events `recent` returns at most. */
  perUser: number;
  registry: Registry;
  /** The account an email names, to attribute failed logins to it; undefined when there is none. */
  findUserId?: (email: string) => Promise<string | undefined>;
  /** Sees every event as it is logged (the admin overview's counts); must not throw. */
  observe?: (event: SecurityEvent) => void;
}): SecurityEvents {
  const { store, hashKey, perUser, findUserId } = deps;
  const log = deps.logger.child({ component: "security" });
  const counter = new Counter({
    name: "security_events_total",
    help: "Security events recorded, by event",
    labelNames: ["event"],
    registers: [deps.registry],
  });
  const storeFailures = new Counter({
    name: "security_event_store_failures_total",
    help: "Security events logged but not stored in the user's activity list (the store failed)",
    registers: [deps.registry],
  });
  for (const event of SECURITY_EVENTS) counter.inc({ event }, 0);
  const pending = new Set<Promise<void>>();

  const emailHash = (email: string) =>
    createHmac("sha256", hashKey).update(normalizeEmail(email)).digest("base64url").slice(0, 22);

  const lookups = new LRUCache<string, { userId: string | null }>({ max: LOOKUP_MAX, ttl: LOOKUP_TTL_MS });
  const attribute = async (email: string | undefined): Promise<string | undefined> => {
    if (!email || !findUserId) return undefined;
    const normalized = normalizeEmail(email);
    const known = lookups.get(normalized);
    if (known) return known.userId ?? undefined;
    const userId = await findUserId(normalized).catch(() => null);
    // A failed lookup is not remembered: the next event tries again.
    if (userId !== null) lookups.set(normalized, { userId: userId ?? null });
    return userId ?? undefined;
  };

  const store1 = async (userId: string, event: SecurityEvent) => {
    try {
      await store.append(userId, event);
    } catch (err) {
      storeFailures.inc();
      log.warn(
        { event: event.event, userId, err: err instanceof Error ? { message: err.message } : undefined },
        "could not store a security event",
      );
    }
  };

  const emit = (event: SecurityEvent) => {
    counter.inc({ event: event.event });
    deps.observe?.(event);
    const { requestId, ...fields } = event;
    log.info({ ...fields, reqId: requestId }, "security event");
  };

  const finish = async (base: SecurityEvent, email: string | undefined) => {
    const userId = base.userId ?? (await attribute(email));
    const event = userId ? { ...base, userId } : base;
    emit(event);
    if (!userId || UNLISTED.has(event.event)) return;
    const needsLast = event.event === "login_succeeded" || FAILURES.has(event.event);
    const [last] = needsLast ? await store.recent(userId, 1).catch(() => []) : [];
    if (last && FAILURES.has(event.event) && isRepeat(last, event)) return;
    if (last && event.event === "login_succeeded" && FAILURES.has(last.event)) {
      const cleared: SecurityEvent = { ...event, event: "lockout_cleared" };
      emit(cleared);
      await store1(userId, cleared);
    }
    await store1(userId, event);
  };

  return {
    record(name, input = {}) {
      const context = requestContext.getStore();
      const userAgent = context?.req.get("user-agent");
      const event: SecurityEvent = {
        at: new Date().toISOString(),
        event: name,
        userId: input.userId ?? context?.req.user?.id,
        emailHash: input.email ? emailHash(input.email) : undefined,
        ip: context?.req.ip,
        device: context ? describeDevice(userAgent ?? "") : undefined,
        userAgent: userAgent?.slice(0, USER_AGENT_MAX),
        requestId: context?.res.locals.requestId,
        policy: input.policy,
        count: input.count,
        action: input.action,
        target: input.target,
        actor: input.actor,
        group: input.group,
        provider: input.provider,
        tokenId: input.tokenId,
      };
      const done = finish(event, input.userId ? undefined : input.email).catch((err: unknown) =>
        log.warn({ err: err instanceof Error ? { message: err.message } : undefined }, "security event lost"),
      );
      pending.add(done);
      done.finally(() => pending.delete(done));
    },
    async recent(userId) {
      return store.recent(userId, perUser);
    },
    context: () => (req, res, next) => requestContext.run({ req, res }, next),
    async settled() {
      while (pending.size > 0) await Promise.all(pending);
    },
    async forget(userId) {
      // Events still being stored for the user land first, so none outlives the list.
      while (pending.size > 0) await Promise.all(pending);
      await store.forget(userId);
    },
  };
}

/** Records nothing: for services built without the log (unit tests). */
export const NO_SECURITY_EVENTS: Pick<SecurityEvents, "record"> = { record: () => undefined };

/** A `.catch` handler that records `event` when the error is a 429 refusal, and rethrows the error. */
export function recordIfRefused(
  events: Pick<SecurityEvents, "record">,
  event: SecurityEventName,
  input: SecurityEventInput,
): (err: unknown) => never {
  return (err) => {
    if (err instanceof HttpError && err.status === 429) events.record(event, input);
    throw err;
  };
}
