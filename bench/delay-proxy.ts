import { createServer, type Socket, connect as tcpConnect } from "node:net";
import { freePort } from "../tests/helpers/ports.js";

export interface DelayProxy {
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * A TCP proxy on a free loopback port in front of `target` that holds every chunk for `delayMs` in each
 * direction (so a round trip costs about 2 x delayMs more), keeping order: a network between app and
 * Redis where this machine has no `netem`. Node's timers have a resolution of 1 ms, so the real delay is
 * delayMs to delayMs + 1 ms: the bench measures the round trip through the proxy and reports that.
 */
export async function startDelayProxy(
  target: { host: string; port: number },
  delayMs: number,
): Promise<DelayProxy> {
  const port = await freePort();
  const open = new Set<Socket>();

  /** Forwards `from` to `to`, each chunk `delayMs` after it arrived, in order. */
  const pipeDelayed = (from: Socket, to: Socket) => {
    const queue: Array<{ due: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const flush = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && (queue[0] as { due: number }).due <= now) {
        to.write((queue.shift() as { chunk: Buffer }).chunk);
      }
      if (queue.length > 0) schedule();
      else if (ended) to.end();
    };
    const schedule = () => {
      if (timer) return;
      const wait = Math.max(0, (queue[0] as { due: number }).due - performance.now());
      timer = setTimeout(flush, wait);
    };
    from.on("data", (chunk: Buffer) => {
      queue.push({ due: performance.now() + delayMs, chunk });
      schedule();
    });
    from.on("end", () => {
      ended = true;
      if (queue.length === 0) to.end();
    });
  };

  const server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = tcpConnect({ host: target.host, port: target.port });
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("close", () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
      s.on("error", () => s.destroy());
    }
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
