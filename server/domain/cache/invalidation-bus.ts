import { randomBytes } from "node:crypto";
import { Cluster } from "ioredis";
import type { Logger } from "../../infra/logging/logger.js";
import type { Redis } from "../../infra/redis/redis-client.js";

export type BusMessage = { t: "key"; c: string; k: string } | { t: "category"; c: string; g?: number };

export interface InvalidationBus {
  /** Tells the other instances; false when it could not be sent. */
  publish(message: BusMessage): Promise<boolean>;
  state(): "ready" | "down" | "none";
  close(): Promise<void>;
}

export interface BusHandlers {
  /** Another instance changed something. */
  onMessage(message: BusMessage): void;
  /** The channel came back after a drop: messages sent meanwhile are lost. */
  onReconnect(): void;
}

/** No other instance to tell (no Redis, or an L2 that is not shared). */
export function createLocalBus(): InvalidationBus {
  return { publish: async () => true, state: () => "none", close: async () => undefined };
}

/** A new connection with the same (fail-fast) options; we subscribe again ourselves on every `ready`. */
function subscriberFor(redis: Redis, name: string): Redis {
  if (redis instanceof Cluster) {
    return redis.duplicate(undefined, {
      redisOptions: { ...redis.options.redisOptions, connectionName: name, autoResubscribe: false },
    });
  }
  return redis.duplicate({ connectionName: name, autoResubscribe: false });
}

function parse(text: string): (BusMessage & { o: string }) | undefined {
  try {
    const m = JSON.parse(text) as BusMessage & { o: string };
    if (typeof m.o !== "string" || typeof m.c !== "string") return undefined;
    if (m.t === "key" && typeof m.k === "string") return m;
    if (m.t === "category") return typeof m.g === "number" ? m : { o: m.o, t: m.t, c: m.c };
  } catch {}
  return undefined;
}

/**
 * Invalidations over Redis pub/sub. Publishing uses the main client through `run` (the breaker);
 * listening uses a dedicated connection (a subscribed connection cannot run ordinary commands in RESP2)
 * with the main client's fail-fast options. An instance ignores its own messages.
 */
export function createRedisBus(
  options: {
    redis: Redis;
    channel: string;
    connectionName: string;
    logger: Logger;
    subscribe: boolean;
    run: <T>(fn: () => Promise<T>) => Promise<T>;
  },
  handlers: BusHandlers,
): InvalidationBus {
  const { redis, channel, logger: log, run } = options;
  const origin = randomBytes(8).toString("hex");
  let closed = false;
  let subscriber: Redis | undefined;
  let ready = false;

  if (options.subscribe) {
    const sub = subscriberFor(redis, options.connectionName);
    subscriber = sub;
    let wasReady = false;
    let lastError = "";
    sub.on("ready", () => {
      if (closed) return;
      sub.subscribe(channel).then(
        () => {
          ready = true;
          if (wasReady) handlers.onReconnect();
          wasReady = true;
        },
        (err: Error) => {
          if (!closed) log.warn({ err: { message: err.message } }, "cache: subscribe failed");
        },
      );
    });
    sub.on("close", () => {
      ready = false;
    });
    sub.on("error", (err: Error) => {
      if (err.message === lastError) return;
      lastError = err.message;
      log.warn({ err: { message: err.message } }, "cache: invalidation channel error");
    });
    sub.on("message", (from: string, text: string) => {
      if (from !== channel) return;
      const message = parse(text);
      if (message && message.o !== origin) handlers.onMessage(message);
    });
    if (sub.status === "wait") sub.connect().catch(() => undefined); // retries in the background
  }

  return {
    async publish(message) {
      try {
        await run(() => redis.publish(channel, JSON.stringify({ o: origin, ...message })));
        return true;
      } catch (err) {
        log.debug({ op: "publish", err: { message: (err as Error).message } }, "cache: Redis call failed");
        return false;
      }
    },
    state: () => (subscriber ? (ready ? "ready" : "down") : "none"),
    async close() {
      closed = true;
      if (subscriber) {
        const sub = subscriber;
        subscriber = undefined;
        await sub.quit().catch(() => sub.disconnect());
      }
    },
  };
}
