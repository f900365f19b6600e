import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { startRedisServer } from "../tests/helpers/redis-server.js";

type Cleanup = () => Promise<void> | void;
const cleanups: Cleanup[] = [];

/** Registers something to undo when the run ends (success, failure or Ctrl-C); undone in reverse order. */
export function onCleanup(fn: Cleanup): void {
  cleanups.push(fn);
}

let cleaning: Promise<void> | undefined;
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const fn = cleanups.pop() as Cleanup;
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`cleanup: ${(err as Error).message}\n`);
      }
    }
  })().finally(() => {
    cleaning = undefined; // a later run may register and clean up again
  });
  return cleaning;
}

let interrupted = false;
/** True once a signal asked the run to stop (errors from closed connections are expected then). */
export function wasInterrupted(): boolean {
  return interrupted;
}

/** Ctrl-C and SIGTERM stop every child we started before the harness exits. */
export function installSignalHandlers(): void {
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      interrupted = true;
      process.stderr.write(`\n${signal}: stopping everything the bench started...\n`);
      void cleanup().then(() => process.exit(130));
    });
  }
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** SIGTERM, then SIGKILL if the process has not exited within `graceMs`. */
async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  if (!(await waitForExit(child, graceMs))) {
    child.kill("SIGKILL");
    await waitForExit(child, 2000);
  }
}

export interface BenchRedis {
  port: number;
  url: string;
}

/** A private redis-server on a free loopback port, no persistence; stopped at cleanup. */
export async function startRedis(): Promise<BenchRedis> {
  const server = await startRedisServer();
  onCleanup(() => server.stop());
  return { port: server.port, url: server.url };
}

export interface BenchServer {
  name: string;
  pid: number;
  url: string;
  logFile: string;
  /** The last lines the server wrote, for error messages. */
  logTail(lines?: number): string;
}

/**
 * Spawns `node <args>` with `env` and waits until GET /health/live answers 200. Output goes to
 * `logFile` (a file, like a production log collector, so log writes cost what they cost in production).
 */
export async function startServer(options: {
  name: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  port: number;
  logFile: string;
  cwd: string;
}): Promise<BenchServer> {
  const fd = openSync(options.logFile, "w");
  const child = spawn(process.execPath, options.args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  onCleanup(() => stopChild(child, 10_000));
  const logTail = (lines = 20) => {
    try {
      return readFileSync(options.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  };
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.name} exited during start-up:\n${logTail()}`);
    }
    try {
      const res = await fetch(`${url}/health/live`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${options.name} not ready after 60 s:\n${logTail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name: options.name, pid: child.pid as number, url, logFile: options.logFile, logTail };
}
