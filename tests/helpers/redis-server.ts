import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { freePort, waitForPort } from "./ports.js";

export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

export interface RedisServer {
  port: number;
  /** `redis://127.0.0.1:<port>` (or `rediss://localhost:<port>` with TLS). */
  url: string;
  /** SIGKILL: the server vanishes as in a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port: empty, unless `extraArgs` turned persistence on. */
  start(): Promise<void>;
  /** Sends a signal to the running server, e.g. SIGSTOP / SIGCONT to freeze it as a stalled host would. */
  signal(name: NodeJS.Signals): void;
  stop(): Promise<void>;
  /** SIGSTOP: the server keeps its connections open and answers nothing, as in a stall. */
  freeze(): void;
  /** SIGCONT after `freeze`. */
  thaw(): void;
}

let checked = false;
function assertBinary() {
  if (checked) return;
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
    checked = true;
  } catch {
    throw new Error(
      "redis-server is not installed: the tests need it (Debian/Ubuntu: apt-get install redis-server)",
    );
  }
}

/** Starts a private, non-persistent redis-server on a free loopback port; `extraArgs` can misconfigure it. */
export async function startRedisServer(
  options: { tls?: TlsFiles; extraArgs?: string[] } = {},
): Promise<RedisServer> {
  assertBinary();
  const port = await freePort();
  const args = options.tls
    ? [
        "--port",
        "0",
        "--tls-port",
        String(port),
        "--tls-cert-file",
        options.tls.cert,
        "--tls-key-file",
        options.tls.key,
        "--tls-ca-cert-file",
        options.tls.ca,
        "--tls-auth-clients",
        "no",
      ]
    : ["--port", String(port)];
  args.push(
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--loglevel",
    "warning",
    ...(options.extraArgs ?? []),
  );

  let child: ChildProcess | undefined;
  const start = async () => {
    const proc = spawn("redis-server", args, { stdio: ["ignore", "ignore", "inherit"] });
    child = proc;
    await waitForPort(port);
  };
  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.kill("SIGKILL");
    });
  };
  await start();
  return {
    port,
    url: options.tls ? `rediss://localhost:${port}` : `redis://127.0.0.1:${port}`,
    kill,
    start,
    signal(name) {
      if (!child || child.exitCode !== null) throw new Error("redis-server is not running");
      child.kill(name);
    },
    stop: kill, // SIGKILL ends a frozen (SIGSTOP) server too
    freeze: () => child?.kill("SIGSTOP"),
    thaw: () => child?.kill("SIGCONT"),
  };
}
