import { Cluster, Redis as RedisNode, type RedisOptions } from "ioredis";
import type { RedisConfig } from "../config/config.js";
import type { Logger } from "../logging/logger.js";

/** One Redis server (or a managed endpoint) or a Redis Cluster; the app uses only what both offer. */
export type Redis = RedisNode | Cluster;

const MAX_BACKOFF_MS = 5000;

/** Retry delay for reconnect attempt n (1-based): 100 ms doubling, capped, with jitter so instances spread out. */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(100 * 2 ** Math.min(attempt - 1, 10), MAX_BACKOFF_MS);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/** Options that make a Redis outage fail fast instead of queueing commands until it ends. */
export function redisOptions(config: RedisConfig): RedisOptions {
  return {
    host: config.host,
    port: config.port,
    username: config.username,
    password: config.password,
    db: config.db,
    tls: config.tls
      ? {
          ca: config.tls.ca,
          rejectUnauthorized: config.tls.rejectUnauthorized,
          servername: config.tls.servername,
        }
      : undefined,
    family: 0,
    lazyConnect: true,
    connectTimeout: config.connectTimeoutMs,
    commandTimeout: config.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    retryStrategy: reconnectDelay,
    // A READONLY reply means a failover happened behind a managed endpoint: reconnect to the new primary.
    reconnectOnError: (err) => err.message.startsWith("READONLY"),
  };
}

function clusterOptions(options: RedisOptions) {
  const {
    host: _h,
    port: _p,
    retryStrategy,
    enableOfflineQueue,
    lazyConnect,
    enableAutoPipelining,
    db: _db,
    ...perNode
  } = options;
  return {
    redisOptions: perNode,
    clusterRetryStrategy: retryStrategy as (attempt: number) => number,
    enableOfflineQueue,
    lazyConnect,
    enableAutoPipelining,
    slotsRefreshTimeout: options.connectTimeout,
    // A TLS cluster's nodes announce IPs; keep verifying the certificate against the configured name.
    dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address),
  };
}

/**
 * Creates the ioredis client (not yet connected) and logs its life cycle without credentials.
 * Call `connectRedis` once at boot.
 */
export function createRedisClient(config: RedisConfig, logger: Logger, name = "app"): Redis {
  const options = { ...redisOptions(config), connectionName: name };
  const client: Redis = config.cluster
    ? new Cluster(
        [{ host: config.host, port: config.port }, ...config.cluster.nodes],
        clusterOptions(options),
      )
    : new RedisNode(options);
  const log = logger.child({ component: "redis", client: name });
  const target = `${config.tls ? "rediss" : "redis"}://${config.username ?? "default"}${config.password ? ":***" : ""}@${config.host}:${config.port}/${config.db}`;
  let lastError = "";
  client.on("connect", () => log.info({ target }, "redis connected"));
  client.on("ready", () => {
    lastError = "";
    log.info({ target }, "redis ready");
  });
  client.on("error", (err: Error) => {
    // One line per distinct failure, not one per reconnect attempt.
    if (err.message === lastError) return;
    lastError = err.message;
    log.error(
      { target, err: { message: err.message, code: (err as NodeJS.ErrnoException).code } },
      "redis error",
    );
  });
  client.on("reconnecting", (delay: number) => log.warn({ target, delayMs: delay }, "redis reconnecting"));
  client.on("end", () => log.warn({ target }, "redis connection ended"));
  return client;
}

/** Connects once; if Redis is down the client keeps retrying in the background and boot goes on. */
export async function connectRedis(client: Redis, logger: Logger): Promise<boolean> {
  try {
    await client.connect();
    return true;
  } catch (err) {
    logger.warn(
      { component: "redis", err: { message: (err as Error).message } },
      "redis not reachable at boot; starting anyway and retrying in the background",
    );
    return false;
  }
}

/** True for errors that mean "Redis cannot answer now" rather than a bug in the command. */
export function isRedisUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const name = err.name;
  const message = err.message;
  return (
    name === "MaxRetriesPerRequestError" ||
    message.includes("enableOfflineQueue") ||
    message === "Command timed out" ||
    message === "Connection is closed." ||
    message.startsWith("LOADING") ||
    message.startsWith("READONLY") ||
    message.startsWith("CLUSTERDOWN") ||
    message.startsWith("MASTERDOWN") ||
    message.startsWith("TRYAGAIN") ||
    ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH"].includes(
      (err as NodeJS.ErrnoException).code ?? "",
    )
  );
}
