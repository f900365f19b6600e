import cluster, { type Worker } from "node:cluster";
import {
  AggregatorRegistry,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from "prom-client";
import { HttpError } from "../lib/errors.js";

export const METRICS_REQUEST = "app:metrics-request";
export const METRICS_RESPONSE = "app:metrics-response";
const TIMEOUT_MS = 5000; // prom-client's own bound on collecting from the workers
// prom-client's messages: its listener in each worker answers these with the worker's registries as JSON.
const GET_METRICS_REQ = "prom-client:getMetricsReq";
const GET_METRICS_RES = "prom-client:getMetricsRes";

type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

export type MetricsMessage =
  | { type: typeof METRICS_REQUEST; id: number }
  | { type: typeof METRICS_RESPONSE; id: number; text?: string; error?: string };

/**
 * In a cluster worker: a render function that asks the primary for the whole instance's metrics (every
 * worker's registry, summed), and registers `registry` as this worker's part of that sum. Outside a
 * cluster worker: undefined (render the registry itself).
 */
export function clusterMetricsRender(registry: Registry): (() => Promise<string>) | undefined {
  if (!cluster.isWorker) return undefined;
  new AggregatorRegistry(); // installs the listener that answers the primary's collection requests
  AggregatorRegistry.setRegistries([registry]);
  let next = 0;
  const waiting = new Map<number, { resolve(text: string): void; reject(err: Error): void }>();
  process.on("message", (message: MetricsMessage) => {
    if (message?.type !== METRICS_RESPONSE) return;
    const entry = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error !== undefined) entry?.reject(unavailable(message.error));
    else entry?.resolve(message.text ?? "");
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(unavailable("the primary did not answer in time"));
      }, TIMEOUT_MS + 1000);
      waiting.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      process.send?.({ type: METRICS_REQUEST, id } satisfies MetricsMessage);
    });
}

/** A 503 (with Retry-After): one worker's figures alone would be a wrong answer for the instance. */
function unavailable(cause: string): HttpError {
  return new HttpError("service_unavailable", {
    message: "Metrics of every worker could not be collected; try again",
    cause: new Error(cause),
  });
}

/**
 * In the cluster primary: collects every live worker's metrics and sums them (as prom-client's
 * AggregatorRegistry does), plus the counters and histograms of workers that have died, as last collected,
 * so no counter of the instance ever goes down when a worker dies. Gauges of a dead worker are dropped.
 */
export function createClusterMetrics(): {
  collect(workers: Worker[]): Promise<string>;
  /** A worker has died: its last collected counters stay in every later sum. */
  retire(worker: Worker): void;
} {
  let next = 0;
  const lastSeen = new Map<number, WorkerMetrics>();
  let retired: WorkerMetrics = [];
  let retiring: Promise<void> = Promise.resolve();

  const ask = (worker: Worker) =>
    new Promise<WorkerMetrics>((resolve, reject) => {
      const requestId = `primary-${next++}`;
      const timer = setTimeout(() => {
        worker.off("message", onMessage);
        reject(new Error("a worker did not answer in time"));
      }, TIMEOUT_MS);
      function onMessage(message: {
        type?: string;
        requestId?: string;
        metrics?: WorkerMetrics[];
        error?: string;
      }) {
        if (message?.type !== GET_METRICS_RES || message.requestId !== requestId) return;
        clearTimeout(timer);
        worker.off("message", onMessage);
        if (message.error !== undefined) reject(new Error(message.error));
        else resolve((message.metrics ?? []).flat());
      }
      worker.on("message", onMessage);
      worker.send({ type: GET_METRICS_REQ, requestId });
    });

  return {
    async collect(workers) {
      const live = workers.filter((w) => w.isConnected());
      const answers = await Promise.all(
        live.map(async (worker) => {
          const metrics = await ask(worker);
          lastSeen.set(worker.id, metrics);
          return metrics;
        }),
      );
      await retiring;
      return AggregatorRegistry.aggregate([...answers, retired]).metrics();
    },
    retire(worker) {
      const last = lastSeen.get(worker.id);
      lastSeen.delete(worker.id);
      if (!last) return;
      const monotonic = last.filter((m) => ["counter", "histogram"].includes(String(m.type)));
      retiring = retiring.then(async () => {
        retired = (await AggregatorRegistry.aggregate([
          retired,
          monotonic,
        ]).getMetricsAsJSON()) as WorkerMetrics;
      });
    },
  };
}
