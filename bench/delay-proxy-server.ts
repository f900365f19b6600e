/**
 * The delay proxy's own process (started by bench/delay-proxy.ts): `delay-proxy-server.ts HOST PORT MS`
 * listens on a free loopback port, prints `{"port":N}` and forwards to HOST:PORT, holding every chunk MS
 * milliseconds in each direction, in order. It exits when its stdin closes (the harness has gone);
 * `trim NS` on stdin shortens the delay by what the proxy's own hops add (the harness measures it).
 *
 * An event loop's timers have 1 ms resolution, too coarse for a 0.125 ms delay, so release times come
 * from a clock thread: it sleeps with `Atomics.wait`, whose timeout has microsecond resolution, until
 * the earliest queued chunk is due, then wakes this event loop with a message. It sleeps without a
 * timeout while nothing is queued, so an idle proxy costs no CPU.
 */
import { createServer, type Socket, connect as tcpConnect } from "node:net";
import { setPriority } from "node:os";
import { Worker } from "node:worker_threads";

// Int32 slots: the clock sleeps on GENERATION (bumped whenever DUE moves earlier); STOP ends it.
// DUE (BigInt64 at byte 8): absolute process.hrtime time (ns) of the earliest queued chunk; 0: none.
// The futex wait overshoots its timeout by 50-70 us here (the kernel's timer slack): the clock asks
// for SLACK_NS less, and chunks due within SLACK_NS count as due.
const SLACK_NS = 60_000;

// Plain JavaScript: a worker thread does not get the tsx loader of this process.
const CLOCK = `
const { parentPort, workerData } = require("node:worker_threads");
const ctl = new Int32Array(workerData, 0, 2);
const due = new BigInt64Array(workerData, 8, 1);
const SLACK_NS = ${SLACK_NS};
while (Atomics.load(ctl, 1) === 0) {
  const generation = Atomics.load(ctl, 0);
  const next = Atomics.load(due, 0);
  if (next === 0n) {
    Atomics.wait(ctl, 0, generation);
    continue;
  }
  const leftNs = Number(next - process.hrtime.bigint());
  if (leftNs > SLACK_NS) {
    Atomics.wait(ctl, 0, generation, (leftNs - SLACK_NS) / 1e6);
    continue;
  }
  // Cleared before the message, so a chunk queued meanwhile re-arms the clock.
  if (Atomics.compareExchange(due, 0, next, 0n) === next) parentPort.postMessage(0);
}
`;

interface Pipe {
  to: Socket;
  queue: Array<{ due: number; chunk: Buffer }>;
  ended: boolean;
}

function main(targetHost: string, targetPort: number, delayMs: number): void {
  // Less what the proxy's own hops add (socket reads and writes, thread wake-ups): the harness measures
  // that and sends `trim NS` on stdin, so that the round trip through the proxy minus the direct one is
  // 2 x delayMs.
  let delayNs = delayMs * 1e6;
  const buffer = new SharedArrayBuffer(16);
  const ctl = new Int32Array(buffer, 0, 2);
  const due = new BigInt64Array(buffer, 8, 1);
  const clock = new Worker(CLOCK, { eval: true, workerData: buffer });
  const pending = new Set<Pipe>();
  const now = () => Number(process.hrtime.bigint());

  /** Asks the clock to wake us at `at` (ns) unless it will already wake us earlier. */
  const arm = (at: number) => {
    const current = Atomics.load(due, 0);
    if (current !== 0n && Number(current) <= at) return;
    Atomics.store(due, 0, BigInt(Math.round(at)));
    Atomics.add(ctl, 0, 1);
    Atomics.notify(ctl, 0);
  };

  const release = () => {
    const limit = now() + SLACK_NS;
    let earliest = Number.POSITIVE_INFINITY;
    for (const pipe of pending) {
      const { queue, to } = pipe;
      let head = queue[0];
      if (head && head.due <= limit) {
        to.cork();
        while (head && head.due <= limit) {
          to.write(head.chunk);
          queue.shift();
          head = queue[0];
        }
        to.uncork();
      }
      if (head) earliest = Math.min(earliest, head.due);
      else {
        pending.delete(pipe);
        if (pipe.ended) to.end();
      }
    }
    if (earliest !== Number.POSITIVE_INFINITY) arm(earliest);
  };
  clock.on("message", release);

  const pipeDelayed = (from: Socket, to: Socket) => {
    const pipe: Pipe = { to, queue: [], ended: false };
    from.on("data", (chunk: Buffer) => {
      const at = now() + delayNs;
      pipe.queue.push({ due: at, chunk });
      if (!pending.has(pipe)) {
        pending.add(pipe);
        arm(at);
      }
    });
    from.on("end", () => {
      pipe.ended = true;
      if (pipe.queue.length === 0) to.end();
    });
  };

  const server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = tcpConnect({ host: targetHost, port: targetPort });
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      s.on("close", () => {
        client.destroy();
        upstream.destroy();
      });
      s.on("error", () => s.destroy());
    }
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  });
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address?.port })}\n`);
  });
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (text: string) => {
    for (const line of text.split("\n")) {
      const trim = /^trim (\d+)$/.exec(line.trim());
      if (trim) delayNs = Math.max(0, delayMs * 1e6 - Number(trim[1]));
    }
  });
  process.stdin.on("close", () => process.exit(0));
  process.stdin.on("end", () => process.exit(0));
}

// A network's delay does not grow with the CPU load of the machines at its ends: the proxy (little CPU)
// goes ahead of the servers and the load generator in the scheduler's queue. Linux sets the nice value
// per thread, so this comes before the clock thread starts. Without CAP_SYS_NICE it stays as it is.
try {
  setPriority(-10);
} catch {
  // unprivileged
}
const [host, port, delay] = process.argv.slice(2);
main(host ?? "127.0.0.1", Number(port), Number(delay));
