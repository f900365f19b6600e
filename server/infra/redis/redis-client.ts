import { Cluster, Redis as RedisNode, type RedisOptions } from "ioredis";
import type { RedisConfig, SentinelConfig } from "../../config/config.js";
import { DEPENDENCY_REASONS } from "../../lib/error-catalog.js";
import { failureReason } from "../../lib/failure-reason.js";
import type { Logger } from "../logging/logger.js";
import { createRepeatLog } from "../logging/repeat-log.js";

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
    // A frozen Redis (stopped process, stuck failover) keeps the TCP connection open and answers nothing:
    // with commands outstanding and no byte back for this long, the socket is destroyed and re-made with
    // the backoff below. Until the new connection is ready, commands fail at once instead of piling up.
    socketTimeout: config.stallTimeoutMs ?? config.commandTimeoutMs,
    // Commands in flight on a dropped connection already failed (timed out) for their callers: never
    // send them again into the next connection, where a recovered Redis would run a stale backlog.
    autoResendUnfulfilledCommands: false,
    // ...and fail them the moment their connection closes, instead of letting each wait out its own
    // timeout (which stacked a second timeout onto a request that sent a command just before the drop).
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    retryStrategy: reconnectDelay,
    // A READONLY reply means a failover happened behind a managed endpoint: reconnect to the new primary.
    reconnectOnError: (err) => err.message.startsWith("READONLY"),
  };
}

const CLUSTER_MAX_REDIRECTIONS = 16;

/** Delay between a cluster command's retries (ms) so that all of them fit in one command timeout. */
function clusterRetryDelay(commandTimeoutMs: number | undefined): number {
  return Math.max(1, Math.floor((commandTimeoutMs ?? 500) / CLUSTER_MAX_REDIRECTIONS));
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
    // A command whose node is down is retried up to maxRedirections times, waiting these delays between
    // tries (100 ms each by default, so 1.6 s): spread the tries over one command timeout instead, so a
    // request on a frozen or failed master answers within about one timeout like on a single server.
    maxRedirections: CLUSTER_MAX_REDIRECTIONS,
    retryDelayOnFailover: clusterRetryDelay(options.commandTimeout),
    retryDelayOnClusterDown: clusterRetryDelay(options.commandTimeout),
    retryDelayOnTryAgain: clusterRetryDelay(options.commandTimeout),
    // A TLS cluster's nodes announce IPs; keep verifying the certificate against the configured name.
    dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address),
  };
}

/** Sentinel: the same fail-fast options, with the primary found (and re-found after a failover) by the sentinels. */
function sentinelOptions(options: RedisOptions, sentinel: SentinelConfig): RedisOptions {
  const { host: _h, port: _p, ...rest } = options;
  return {
    ...rest,
    sentinels: sentinel.nodes,
    name: sentinel.name,
    sentinelUsername: sentinel.username,
    sentinelPassword: sentinel.password,
    // REDIS_TLS covers the sentinels and the data nodes alike.
    enableTLSForSentinelMode: options.tls !== undefined,
    sentinelTLS: options.tls,
    sentinelRetryStrategy: reconnectDelay,
    sentinelCommandTimeout: options.commandTimeout,
    // Subscribe to +switch-master so a promotion moves the connection at once, not at its next error.
    failoverDetector: true,
  };
}

/** `host:port` of the server the client is connected to now (the current primary with Sentinel). */
export function connectedAddress(client: Redis): string | undefined {
  if (client instanceof Cluster) return undefined;
  const stream = (client as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
  if (client.status !== "ready" || !stream?.remoteAddress) return undefined;
  const host = stream.remoteAddress.includes(":") ? `[${stream.remoteAddress}]` : stream.remoteAddress;
  return `${host}:${stream.remotePort}`;
}

/**
 * Creates the ioredis client (not yet connected) and logs its life cycle without credentials.
 * Call `connectRedis` once at boot.
 */
export function createRedisClient(
  config: RedisConfig,
  logger: Logger,
  name = "app",
  /** Replaces the fail-fast defaults, for connections that must wait instead (the queue's workers). */
  overrides: RedisOptions = {},
): Redis {
  const options = { ...redisOptions(config), connectionName: name, ...overrides };
  const client: Redis = config.cluster
    ? new Cluster(
        [{ host: config.host, port: config.port }, ...config.cluster.nodes],
        clusterOptions(options),
      )
    : new RedisNode(config.sentinel ? sentinelOptions(options, config.sentinel) : options);
  const log = logger.child({ component: "redis", client: name });
  const where = config.sentinel
    ? `${config.sentinel.name}@sentinels(${config.sentinel.nodes.map((n) => `${n.host}:${n.port}`).join(",")})`
    : `${config.host}:${config.port}`;
  const target = `${config.tls ? "rediss" : "redis"}://${config.username ?? "default"}${config.password ? ":***" : ""}@${where}/${config.db}`;
  // An outage is one episode per distinct cause: its start, a count every interval, its end on `ready`.
  const episodes = createRepeatLog(log);
  const open = new Set<string>();
  const report = (key: string, level: "error" | "warn", fields: Record<string, unknown>, msg: string) => {
    open.add(key);
    episodes.report(key, level, { target, ...fields }, msg);
  };
  client.on("connect", () => {
    if (open.size === 0) log.info({ target }, "redis connected");
  });
  client.on("ready", () => {
    for (const key of open) episodes.end(key);
    open.clear();
    log.info({ target, ...(config.sentinel ? { primary: connectedAddress(client) } : {}) }, "redis ready");
  });
  const onError = (err: Error) => {
    const fields = { err: describeRedisError(err) };
    if (err.message.startsWith("Socket timeout")) {
      report(err.message, "error", fields, "redis stalled: no reply in time; connection dropped and re-made");
    } else {
      report(err.message, "error", fields, "redis error");
    }
  };
  client.on("error", onError);
  // Sentinel: a sentinel that cannot be reached or answers nonsense (the next one is tried).
  if (config.sentinel) client.on("sentinelError", onError);
  // Cluster: a node's connection errors arrive here (the cluster's own `error` covers the rest).
  if (client instanceof Cluster) client.on("node error", onError);
  client.on("reconnecting", (delay: number) =>
    report("reconnecting", "warn", { delayMs: delay }, "redis reconnecting"),
  );
  client.on("end", () => {
    episodes.close();
    open.clear();
    log.warn({ target }, "redis connection ended");
  });
  return client;
}

/** Connects once; if Redis is down the client keeps retrying in the background and boot goes on. */
export async function connectRedis(client: Redis, logger: Logger): Promise<boolean> {
  // connect() rejects with "Connection is closed."; the cause (ENOTFOUND, WRONGPASS, ...) came as an event.
  let lastError: unknown;
  const remember = (err: unknown) => {
    lastError = err;
  };
  client.on("error", remember);
  if (client instanceof Cluster) client.on("node error", remember);
  try {
    await client.connect();
    return true;
  } catch (err) {
    const cause = describeRedisError(lastError ?? err);
    logger.warn(
      { component: "redis", err: cause },
      `redis not reachable at boot (${cause.reason}${cause.code ? `: ${cause.code}` : ""}); starting anyway and retrying in the background`,
    );
    return false;
  } finally {
    client.off("error", remember);
    client.off("node error", remember);
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

/** What went wrong, in words an operator can act on: host not found, refused, authentication, ... */
export function describeRedisError(err: unknown): { message: string; code?: string; reason: string } {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? /^([A-Z]+)\b/.exec(message)?.[1];
  const known = failureReason(err);
  // A client that cannot say why it failed is, for the operator, not connected.
  const reason = DEPENDENCY_REASONS[known === "unavailable" ? "not_connected" : known];
  return { message, ...(code ? { code } : {}), reason };
}
