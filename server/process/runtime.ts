import type { Server } from "node:http";
import type { Express } from "express";
import type { Config } from "../config/config.js";
import { ADMIN_GROUP } from "../domain/auth/groups.js";
import { createPasswordHasher, type PasswordHasher } from "../domain/auth/password.js";
import { type Cache, createCache } from "../domain/cache/cache.js";
import { trackRedisErrors } from "../domain/health/checks.js";
import { createLifecycle, type Lifecycle } from "../domain/health/lifecycle.js";
import { createMailComposer } from "../domain/mail/compose.js";
import { createMailDelivery } from "../domain/mail/deliver.js";
import { SessionRedisStore } from "../domain/session/redis-store.js";
import { createApp } from "../http/app.js";
import { createPgliteDatabase, createPostgresDatabase, type Database } from "../infra/db/database.js";
import { checkSchema, isMigrationRetryable, migrate } from "../infra/db/migrate.js";
import { createBullQueue } from "../infra/jobs/bull-queue.js";
import { createMemoryQueue } from "../infra/jobs/memory-queue.js";
import type { JobQueue, JobWorker } from "../infra/jobs/queue.js";
import type { Logger } from "../infra/logging/logger.js";
import { createMailer } from "../infra/mail/mailer.js";
import type { MailComposer, Mailer, MailJob } from "../infra/mail/types.js";
import { connectRedis, createRedisClient, type Redis } from "../infra/redis/redis-client.js";
import { DependencyUnavailableError } from "../lib/errors.js";
import { within } from "../lib/within.js";
import { drainServer } from "./drain.js";
import { createServices, type Infrastructure, type Services } from "./services.js";

/** What every factory gets: the config, the logger, and where to register how to close what it opened. */
export interface RuntimeContext {
  config: Config;
  logger: Logger;
  /**
   * What the database factory does with the schema: `apply` pending migrations (the web process alone or
   * the cluster primary, before anything serves), or only `check` it is current (cluster workers, the mail
   * worker on a shared database), refusing to start otherwise.
   */
  migrations: Migrations;
  /** `close` runs when the runtime closes, in reverse order of registration. */
  onClose(close: () => Promise<void> | void): void;
}

/**
 * How the runtime builds each part, in the order it calls them. A caller (a test, a CLI) replaces any of
 * them; a replacement that hands over something it owns registers no close, so the runtime leaves it open.
 */
export interface RuntimeFactories {
  redis(ctx: RuntimeContext): Promise<Redis | undefined>;
  /** The cache's own Redis (CACHE_REDIS_URL); undefined when the cache shares `redis`. */
  cacheRedis(ctx: RuntimeContext): Promise<Redis | undefined>;
  /** Opened, and migrated or checked (`ctx.migrations`). */
  database(ctx: RuntimeContext): Promise<Database>;
  hasher(ctx: RuntimeContext): PasswordHasher;
  cache(ctx: RuntimeContext, redis: Redis | undefined): Cache;
  lifecycle(ctx: RuntimeContext): Lifecycle;
  /** The `mail` job queue: BullMQ on the queue's Redis (its own connections), in memory without Redis. */
  mailQueue(ctx: RuntimeContext, redis: Redis | undefined): Promise<JobQueue<MailJob>>;
  mailer(ctx: RuntimeContext): Mailer;
  services(config: Config, infrastructure: Infrastructure): Services;
  /** Background work of the services: the periodic Redis audits, the inline mail worker. */
  start(ctx: RuntimeContext, services: Services): Promise<void>;
  app(config: Config, services: Services): Express;
}

export interface Runtime {
  app: Express;
  /** Every service, and the infrastructure under them (`services.redis`, `services.db`, ...). */
  services: Services;
  /** Shutdown state: `beginShutdown()` turns readiness to 503 while requests are still served. */
  lifecycle: Lifecycle;
  /** Closes what the factories opened, in reverse order. */
  close(): Promise<void>;
}

export type Migrations = "apply" | "check";

const MIGRATION_ATTEMPTS = 10;

/** A context whose `close()` runs what was registered, newest first; for the runtime and the CLIs. */
export function createRuntimeContext(
  config: Config,
  logger: Logger,
  migrations: Migrations = "apply",
): RuntimeContext & { close(): Promise<void> } {
  const closers: Array<() => Promise<void> | void> = [];
  return {
    config,
    logger,
    migrations,
    onClose: (close) => closers.push(close),
    async close() {
      for (const close of closers.splice(0).reverse()) await close();
    },
  };
}

/** Opens a Redis named by config and waits for it (a failed connection is logged; health reports it). */
export async function openRedis(
  ctx: RuntimeContext,
  config: Config["redis"] | undefined,
  name?: string,
): Promise<Redis | undefined> {
  if (!config) return undefined;
  const redis = createRedisClient(config, ctx.logger, name);
  ctx.onClose(() =>
    redis.quit().then(
      () => undefined,
      () => redis.disconnect(),
    ),
  );
  trackRedisErrors(redis); // so health can name a boot failure (wrong password, unknown host)
  await connectRedis(redis, ctx.logger);
  return redis;
}

/** The database named by config (PostgreSQL, or the embedded PGlite), not yet migrated. */
export async function openDatabase(ctx: RuntimeContext): Promise<Database> {
  const { config, logger } = ctx;
  const db = config.database.url
    ? createPostgresDatabase({ ...config.database, url: config.database.url }, logger)
    : await createPgliteDatabase({ dataDir: config.database.dataDir, schema: config.database.schema });
  ctx.onClose(() => db.close());
  return db;
}

/** The cache from config; `subscribe: false` for one-shot commands that need no invalidations. */
export function openCache(
  ctx: RuntimeContext,
  redis: Redis | undefined,
  options: { subscribe?: boolean } = {},
): Cache {
  const { config, logger } = ctx;
  const cache = createCache({ redis, prefix: config.keyPrefix, logger, config: config.cache, ...options });
  ctx.onClose(() => cache.close()); // its pub/sub connection
  return cache;
}

/** The `mail` queue named by config: BullMQ when a Redis is configured, else this process' memory. */
export async function openMailQueue(ctx: RuntimeContext): Promise<JobQueue<MailJob>> {
  const { config, logger } = ctx;
  const queue = config.queue.redis
    ? await createBullQueue<MailJob>("mail", {
        redis: config.queue.redis,
        keyPrefix: config.keyPrefix,
        stalledMs: config.queue.stalledMs,
        logger,
      })
    : createMemoryQueue<MailJob>("mail");
  ctx.onClose(() => queue.close());
  return queue;
}

/** The factories production uses. */
export const defaultFactories: RuntimeFactories = {
  redis(ctx) {
    if (ctx.config.redis) ctx.logger.info({ redis: ctx.config.redis.source }, "using Redis");
    return openRedis(ctx, ctx.config.redis);
  },
  cacheRedis(ctx) {
    if (ctx.config.cacheRedis) {
      ctx.logger.info({ redis: ctx.config.cacheRedis.source }, "using a separate Redis for the cache");
    }
    return openRedis(ctx, ctx.config.cacheRedis, "cache");
  },
  async database(ctx) {
    const db = await openDatabase(ctx);
    if (!ctx.config.database.url) {
      ctx.logger.warn(
        { dataDir: ctx.config.database.dataDir },
        "No DATABASE_URL: using the embedded PGlite database",
      );
    }
    await prepareSchema(db, ctx);
    return db;
  },
  hasher: ({ config }) =>
    createPasswordHasher({
      logN: config.password.scryptLogN,
      concurrency: config.password.concurrency,
      queueMax: config.password.queueMax,
      maxWaitMs: config.password.maxWaitMs,
      perClientMax: config.password.perClientMax,
    }),
  cache: (ctx, redis) => openCache(ctx, redis),
  lifecycle: () => createLifecycle(),
  mailQueue: (ctx) => openMailQueue(ctx),
  mailer(ctx) {
    const mailer = createMailer(ctx.config, ctx.logger);
    ctx.onClose(() => mailer.close());
    return mailer;
  },
  services: (config, infrastructure) => createServices(config, infrastructure),
  async start(ctx, services) {
    // A Redis that can evict sessions or lose them on restart is said loudly before the first request.
    ctx.onClose(() => services.audits.stop());
    await services.audits.start();
    // Expired durable session records are removed in bounded batches (durable-sessions.ts).
    const durable = services.store instanceof SessionRedisStore ? services.store.durable : undefined;
    if (durable) {
      durable.startSweeping();
      ctx.onClose(() => durable.stopSweeping());
    }
    if (ctx.config.queue.workerMode === "inline") startMailWorker(ctx, services);
    await grantAdminEmails(ctx, services);
  },
  app: (config, services) => createApp(config, services),
};

/** ADMIN_EMAILS: the first admin, made at start-up; idempotent, so every instance may do it. */
export async function grantAdminEmails(ctx: RuntimeContext, services: Services): Promise<void> {
  const emails = ctx.config.adminEmails;
  if (emails.length === 0) return;
  const { granted, missing } = await services.userCache.groups.grantByEmail(emails, ADMIN_GROUP);
  if (granted.length > 0) ctx.logger.info({ count: granted.length }, "ADMIN_EMAILS accounts are admins");
  if (missing.length > 0) {
    ctx.logger.warn(
      { count: missing.length },
      "ADMIN_EMAILS names addresses without an account; register them, then restart",
    );
  }
}

const EVENTS_DRAIN_MS = 1000;
const MAIL_WORKER_DRAIN_MS = 5000;

/** Runs the mail jobs in this process (WORKER_MODE=inline); its close waits for a mail being sent. */
export function startMailWorker(ctx: RuntimeContext, services: Services): void {
  const compose = createMailComposer({ config: ctx.config, db: services.db, logger: ctx.logger });
  const worker = processMail(ctx, { queue: services.mailQueue, mailer: services.mailer, compose });
  ctx.onClose(() => worker.close(MAIL_WORKER_DRAIN_MS));
}

/** Delivers the `mail` queue's jobs with `compose` and `mailer` until the returned worker is closed. */
export function processMail(
  ctx: RuntimeContext,
  deps: { queue: JobQueue<MailJob>; mailer: Mailer; compose: MailComposer },
): JobWorker {
  const deliver = createMailDelivery({
    compose: deps.compose,
    mailer: deps.mailer,
    logger: ctx.logger,
    retryHours: ctx.config.mail.retryHours,
  });
  return deps.queue.process(deliver);
}

/** Opens the dependencies named by config (Redis, database), builds the services, then the app. */
export async function createRuntime(
  config: Config,
  logger: Logger,
  overrides: Partial<RuntimeFactories> = {},
  migrations: Migrations = "apply",
): Promise<Runtime> {
  const make: RuntimeFactories = { ...defaultFactories, ...overrides };
  const ctx = createRuntimeContext(config, logger, migrations);
  const close = ctx.close;
  for (const warning of config.warnings) logger.warn(warning);
  try {
    const redis = await make.redis(ctx);
    const cacheRedis = await make.cacheRedis(ctx);
    const db = await make.database(ctx);
    const infrastructure: Infrastructure = {
      logger,
      db,
      redis,
      cacheRedis,
      hasher: make.hasher(ctx),
      cache: make.cache(ctx, cacheRedis ?? redis),
      lifecycle: make.lifecycle(ctx),
      mailQueue: await make.mailQueue(ctx, redis),
      mailer: make.mailer(ctx),
    };
    const services = make.services(config, infrastructure);
    // Security events still being stored finish before Redis closes; a stalled Redis cannot hold shutdown.
    ctx.onClose(() => within(services.events.settled(), EVENTS_DRAIN_MS).catch(() => undefined));
    await make.start(ctx, services);
    const app = make.app(config, services);
    return { app, services, lifecycle: services.lifecycle, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

/**
 * Migrates (or checks) the schema, retrying while the database is unreachable or starting. An embedded
 * PGlite belongs to this process alone, so it is always migrated here.
 */
export async function prepareSchema(db: Database, ctx: RuntimeContext): Promise<number[]> {
  const { logger, config } = ctx;
  const check = ctx.migrations === "check" && Boolean(config.database.url);
  for (let attempt = 1; ; attempt++) {
    try {
      if (!check) return await migrate(db, logger, config.database.schema);
      await checkSchema(db);
      return [];
    } catch (err) {
      if (!isMigrationRetryable(err)) throw err;
      const cause = rootCause(err);
      if (attempt >= MIGRATION_ATTEMPTS) {
        throw new Error(
          `database unavailable after ${attempt} attempts: ${cause.code ?? ""} ${cause.message}`.replace(
            "  ",
            " ",
          ),
        );
      }
      const delay = Math.min(500 * 2 ** (attempt - 1), 5000); // ms
      logger.warn(
        { attempt, delayMs: delay, err: cause },
        `database not ready (${cause.code ?? cause.message}); retrying ${check ? "the schema check" : "migrations"}`,
      );
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/**
 * Opens the configured database, migrates it (retrying while it starts) and closes it: the cluster primary
 * before it forks, and `npm run db:migrate`. Returns the versions applied.
 */
export async function migrateDatabase(config: Config, logger: Logger): Promise<number[]> {
  const ctx = createRuntimeContext(config, logger, "apply");
  try {
    return await prepareSchema(await openDatabase(ctx), ctx);
  } finally {
    await ctx.close();
  }
}

/** The driver's error inside our 503 wrapper: its code (ECONNREFUSED, 28P01, ...) names the cause. */
function rootCause(err: unknown): { message: string; code?: string } {
  const inner = err instanceof DependencyUnavailableError && err.cause instanceof Error ? err.cause : err;
  const e = inner as NodeJS.ErrnoException;
  return { message: e?.message ?? String(inner), ...(e?.code ? { code: e.code } : {}) };
}

/**
 * Stops accepting connections, then closes each one between requests (drain.ts), cutting what is still
 * open after `timeoutMs`.
 */
export function closeServer(server: Server, timeoutMs: number): Promise<void> {
  return drainServer(server, timeoutMs);
}
