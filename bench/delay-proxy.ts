import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";

export interface DelayProxy {
  port: number;
  url: string;
  pid: number;
  /** Median PING round trip through the proxy and straight to Redis after calibration, ms. */
  rttMs: number;
  directRttMs: number;
  /** Taken off the asked delay in each direction: what the proxy's own hops cost, ms. */
  trimMs: number;
  close(): Promise<void>;
}

const CALIBRATION_PINGS = 100;
const CALIBRATION_STEPS = 5;
const CALIBRATION_TOLERANCE_MS = 0.02;

/** Median round trip of `count` PINGs on each client, taken in turns (one then the other). */
async function medianPings(clients: Redis[], count: number): Promise<number[]> {
  const times = clients.map(() => [] as number[]);
  for (let i = 0; i < count; i++) {
    for (const [k, client] of clients.entries()) {
      const start = performance.now();
      await client.ping();
      times[k]?.push(performance.now() - start);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[t.length >> 1] as number);
}

/**
 * A TCP proxy on a loopback port in front of `target` that holds every chunk in each direction so that
 * a round trip through it costs 2 x `delayMs` more than one straight to `target`, keeping order: a
 * network between app and Redis where this machine has no `netem`. It runs in a process of its own
 * (bench/delay-proxy-server.ts), so the harness's load generator does not delay it, and times its
 * releases to tens of microseconds rather than an event loop's 1 ms. What its own hops add (about
 * 0.1-0.3 ms per round trip here, more on a busy machine) is measured with PINGs once at start and
 * taken off the delay; under load the round trip is measured again (bench/scenarios.ts) and reported.
 */
export async function startDelayProxy(
  target: { host: string; port: number },
  delayMs: number,
): Promise<DelayProxy> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      new URL("./delay-proxy-server.ts", import.meta.url).pathname,
      target.host,
      String(target.port),
      String(delayMs),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const exited = once(child, "exit");
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end(); // it exits when its stdin closes
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, "line").then(([line]) => line as string),
    exited.then(() => undefined),
  ]);
  const port = first ? (JSON.parse(first) as { port: number }).port : 0;
  if (!port) throw new Error("the delay proxy did not start");
  const url = `redis://127.0.0.1:${port}`;

  const clients = [url, `redis://${target.host}:${target.port}`].map((u) => {
    const client = new Redis(u, { maxRetriesPerRequest: 0 });
    client.on("error", () => undefined);
    return client;
  });
  let trimMs = 0;
  let rttMs = Number.NaN;
  let directRttMs = Number.NaN;
  try {
    await medianPings(clients, 10); // connected and warm
    for (let step = 0; step < CALIBRATION_STEPS; step++) {
      [rttMs = Number.NaN, directRttMs = Number.NaN] = await medianPings(clients, CALIBRATION_PINGS);
      const excessMs = rttMs - directRttMs - 2 * delayMs;
      if (Math.abs(excessMs) <= CALIBRATION_TOLERANCE_MS) break;
      trimMs = Math.min(delayMs, Math.max(0, trimMs + excessMs / 2));
      child.stdin.write(`trim ${Math.round(trimMs * 1e6)}\n`);
    }
  } catch (err) {
    await close();
    throw err;
  } finally {
    for (const c of clients) c.disconnect();
  }
  return { port, url, pid: child.pid as number, rttMs, directRttMs, trimMs, close };
}
