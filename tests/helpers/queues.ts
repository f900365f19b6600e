import type { RedisConfig } from "../../server/config/config.js";
import { createBullQueue } from "../../server/infra/jobs/bull-queue.js";
import type { JobQueue } from "../../server/infra/jobs/queue.js";
import type { Logger } from "../../server/infra/logging/logger.js";
import { uniquePrefix } from "./app.js";
import { silentLogger } from "./logger.js";

/** Settings for a Redis on loopback, as config/redis.ts would build them. */
export function loopbackRedis(
  port: number,
  options: { db?: number; commandTimeoutMs?: number; cluster?: boolean } = {},
): RedisConfig {
  return {
    host: "127.0.0.1",
    port,
    db: options.db ?? 0,
    source: "test",
    connectTimeoutMs: 2000,
    commandTimeoutMs: options.commandTimeoutMs ?? 2000,
    ...(options.cluster ? { cluster: { nodes: [] } } : {}),
  };
}

/** A BullMQ queue under a key prefix of its own. */
export function bullQueue<T>(
  redis: RedisConfig,
  options: {
    name?: string;
    backoffMs?: number;
    stalledMs?: number;
    logger?: Logger;
    keyPrefix?: string;
  } = {},
): Promise<JobQueue<T>> {
  return createBullQueue<T>(options.name ?? "mail", {
    redis,
    keyPrefix: options.keyPrefix ?? uniquePrefix(),
    stalledMs: options.stalledMs ?? 30_000,
    logger: options.logger ?? silentLogger(),
    backoffMs: options.backoffMs,
  });
}
