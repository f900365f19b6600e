import { createServer, type Server } from "node:net";
import type { Env } from "../../server/config/config.js";
import type { Lifecycle } from "../../server/domain/health/lifecycle.js";
import type { Metrics } from "../../server/domain/metrics/metrics.js";
import type { Database } from "../../server/infra/db/database.js";
import { buildTestApp, type TestApp } from "./app.js";

export interface HealthTestApp extends TestApp {
  lifecycle: Lifecycle;
  metrics: Metrics;
}

/**
 * The real app with its lifecycle and metrics registry in reach; Redis when `env` names one. Health details
 * are public unless `env` says otherwise (HEALTH_DETAILS): these tests read them; who may see them is
 * tested in tests/http/health-details.test.ts.
 */
export async function buildHealthApp(options: {
  db: Database;
  env?: Env;
  /** prom-client's process metrics start observers per registry: only for tests that read them. */
  processMetrics?: boolean;
}): Promise<HealthTestApp> {
  const t = await buildTestApp({
    ...options,
    env: { HEALTH_DETAILS: "public", ...options.env },
    processMetrics: options.processMetrics ?? false,
  });
  return { ...t, lifecycle: t.services.lifecycle, metrics: t.services.metrics };
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
