import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

export interface DelayProxy {
  port: number;
  url: string;
  pid: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy on a loopback port in front of `target` that holds every chunk for `delayMs` in each
 * direction (a round trip costs about 2 x delayMs more), keeping order: a network between app and Redis
 * where this machine has no `netem`. It runs in a process of its own (bench/delay-proxy-server.ts), so
 * the harness's load generator does not delay it, and times its releases to a few tens of microseconds
 * rather than an event loop's 1 ms. The bench still measures the round trip through it.
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
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, "line").then(([line]) => line as string),
    exited.then(() => undefined),
  ]);
  const port = first ? (JSON.parse(first) as { port: number }).port : 0;
  if (!port) throw new Error("the delay proxy did not start");
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid as number,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end(); // it exits when its stdin closes
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
