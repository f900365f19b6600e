import { type ChildProcess, spawn } from "node:child_process";
import { freePort } from "./ports.js";
import { sleep } from "./sleep.js";

/** A child process under test: its output, its exit, and a way to wait for a log line. */
export interface TestProcess {
  child: ChildProcess;
  /** stdout and stderr as they arrived, interleaved. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** Resolves once the output contains `text`; rejects after `timeoutMs` or when the process ends first. */
  waitForLog(text: string, timeoutMs?: number): Promise<void>;
  /** Sends `signal` (SIGTERM by default) unless the process has ended; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  /** Arguments after the script (a CLI's command). */
  args?: string[];
  /** `false`: no PATH, HOST or LOG_LEVEL defaults; only `env`. */
  defaults?: boolean;
  /** Run a server/ entry from its TypeScript source through tsx instead of dist/ (no build needed). */
  source?: boolean;
  /** Extra spawn options, e.g. `detached` for a process group of its own. */
  detached?: boolean;
}

/**
 * The node arguments that run `entry`: a server/ entry runs as built (`server/main.ts` →
 * `dist/server/main.js`, as `npm start` runs it; the system tier's global setup builds dist/); a file
 * under tests/ runs from source through tsx.
 */
export function nodeArgs(entry: string, options: { source?: boolean } = {}): string[] {
  if (entry.startsWith("server/") && !options.source) return [`dist/${entry.replace(/\.ts$/, ".js")}`];
  return ["--import", "tsx", entry];
}

/** Runs `node <entry>` (see `nodeArgs`) with a clean environment: PATH, LOG_LEVEL=info and `env`. */
export function startProcess(
  entry: string,
  env: Record<string, string | undefined>,
  options: StartOptions = {},
): TestProcess {
  const defaults = options.defaults === false ? {} : { PATH: process.env.PATH ?? "", LOG_LEVEL: "info" };
  const child = spawn(process.execPath, [...nodeArgs(entry, options), ...(options.args ?? [])], {
    env: { ...defaults, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached,
  });
  return watch(child);
}

/** Output, exit and log waits for a spawned child. */
export function watch(child: ChildProcess): TestProcess {
  let out = "";
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  const append = (d: Buffer) => {
    out += d;
    for (const wake of listeners) wake();
  };
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d;
    append(d);
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d;
    append(d);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => out,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForLog(text, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const done = (err?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (err) reject(err);
          else resolve();
        };
        const check = () => {
          if (out.includes(text)) done();
        };
        const timer = setTimeout(
          () => done(new Error(`no "${text}" within ${timeoutMs} ms:\n${out}`)),
          timeoutMs,
        );
        void exited.then((code) => {
          if (!out.includes(text)) done(new Error(`process exited (${code}) before "${text}":\n${out}`));
        });
        listeners.add(check);
        check();
      });
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs `entry` to its end; resolves with its exit code and output (it is killed after `timeoutMs`). */
export async function runProcess(
  entry: string,
  env: Record<string, string | undefined>,
  options: StartOptions & { timeoutMs?: number } = {},
): Promise<{ code: number | null; output: string; stdout: string; stderr: string }> {
  const proc = startProcess(entry, env, options);
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), options.timeoutMs ?? 45_000);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, output: proc.output(), stdout: proc.stdout(), stderr: proc.stderr() };
}

export interface ServerProcess extends TestProcess {
  url: string;
  port: number;
}

/** Runs the real server (`dist/server/main.js`) as its own process and waits until /health/live answers. */
export async function startServerProcess(
  env: Record<string, string>,
  port?: number,
  startTimeoutMs = 60_000,
): Promise<ServerProcess> {
  const listenPort = port ?? (await freePort());
  const proc = startProcess("server/main.ts", { HOST: "127.0.0.1", PORT: String(listenPort), ...env });
  const url = `http://127.0.0.1:${listenPort}`;
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`server exited early:\n${proc.output()}`);
    try {
      const res = await fetch(`${url}/health/live`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.child.kill("SIGKILL");
      throw new Error(`server did not start:\n${proc.output()}`);
    }
    await sleep(100);
  }
  return { ...proc, url, port: listenPort };
}

/** The JSON log lines among a process's output (each log line is one JSON object). */
export function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A cluster's worker pids, in the order their "worker listening" lines arrived. */
export const listeningWorkers = (output: string) =>
  logLines(output)
    .filter((l) => l.msg === "worker listening")
    .map((l) => l.pid as number);

/** The pid that logged each request to `path`, in order. */
export const requestPids = (output: string, path: string) =>
  logLines(output)
    .filter((l) => l.msg === "request" && l.path === path)
    .map((l) => l.pid as number);
