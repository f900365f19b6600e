import { createServer, type Server } from "node:net";
import type { Express } from "express";
import { createApp } from "../../server/app.js";
import { createPasswordHasher } from "../../server/auth/password.js";
import { type Cache, createCache } from "../../server/cache/cache.js";
import { type Config, type Env, loadConfig } from "../../server/config/config.js";
import type { Database } from "../../server/db/database.js";
import { createLifecycle, type Lifecycle } from "../../server/health/lifecycle.js";
import { createMetrics, type Metrics } from "../../server/metrics/metrics.js";
import { connectRedis, createRedisClient, type Redis } from "../../server/redis/redis-client.js";
import { testEnv } from "./app.js";
import { silentLogger } from "./logger.js";

export interface HealthTestApp {
  app: Express;
  config: Config;
  redis?: Redis;
  cache: Cache;
  lifecycle: Lifecycle;
  metrics: Metrics;
  close(): Promise<void>;
}

/** The real app with a lifecycle and metrics registry the test can reach; Redis when `env` names one. */
export async function buildHealthApp(options: {
  db: Database;
  env?: Env;
  metrics?: Metrics;
}): Promise<HealthTestApp> {
  const config = loadConfig(testEnv(options.env));
  const logger = silentLogger();
  let redis: Redis | undefined;
  if (config.redis) {
    redis = createRedisClient(config.redis, logger, "test");
    await connectRedis(redis, logger);
  }
  const hasher = createPasswordHasher({ logN: config.password.scryptLogN, concurrency: 2 });
  const lifecycle = createLifecycle();
  // Process metrics start observers per registry; tests that do not read them skip them.
  const metrics = options.metrics ?? createMetrics({ processMetrics: false });
  const cache = createCache({ redis, prefix: config.keyPrefix, logger, config: config.cache });
  const app = createApp({ config, logger, db: options.db, hasher, redis, cache, lifecycle, metrics });
  return {
    app,
    config,
    redis,
    cache,
    lifecycle,
    metrics,
    async close() {
      await cache.close();
      redis?.disconnect();
    },
  };
}

export interface BlackHole {
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** A TCP server that accepts connections and never sends a byte: a dependency that hangs. */
export async function startBlackHole(): Promise<BlackHole> {
  const sockets = new Set<import("node:net").Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
