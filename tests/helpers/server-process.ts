import { type ChildProcess, spawn } from "node:child_process";
import { freePort } from "./ports.js";

export interface ServerProcess {
  url: string;
  port: number;
  /** What the process wrote to stderr/stdout, for failure messages. */
  output(): string;
  /** SIGTERM, then waits for the exit (graceful shutdown). */
  stop(): Promise<void>;
  /** Starts the process again on the same port with the same environment. */
  start(): Promise<void>;
}

async function waitUntilLive(url: string, child: ChildProcess, output: () => string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output()}`);
    try {
      const res = await fetch(`${url}/health/live`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not answer on ${url} within ${timeoutMs} ms:\n${output()}`);
}

/** Runs the real entry point (`node --import tsx server/main.ts`) on a free loopback port. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let log = "";
  const output = () => log.slice(-4000);

  const start = async () => {
    const proc = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
      cwd: process.cwd(),
      // Only what the server needs: nothing from the developer's own environment leaks in.
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        HOST: "127.0.0.1",
        PORT: String(port),
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    proc.stdout?.on("data", (d) => {
      log += String(d);
    });
    proc.stderr?.on("data", (d) => {
      log += String(d);
    });
    await waitUntilLive(url, proc, output, 30_000);
  };

  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      proc.once("exit", () => {
        clearTimeout(force);
        resolve();
      });
      proc.kill("SIGTERM");
    });
  };

  await start();
  return { url, port, output, stop, start };
}
