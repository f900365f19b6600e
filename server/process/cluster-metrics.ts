import cluster from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";
import { HttpError } from "../lib/errors.js";

export const METRICS_REQUEST = "app:metrics-request";
export const METRICS_RESPONSE = "app:metrics-response";
const TIMEOUT_MS = 5000; // prom-client's own bound on collecting from the workers

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
