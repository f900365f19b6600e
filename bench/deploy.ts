// A deploy under load: N keep-alive clients send requests back to back while the server gets SIGTERM.
// Counts what a user would notice: resets (a request sent on an accepted connection that was cut), 5xx,
// requests never answered, and connections refused (only expected once readiness failed for the delay).
// Usage: npm run bench:deploy [-- --clients 50,200] [--workers 1,2] [--path /auth/me] [--delay 2000]
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort } from "../tests/helpers/ports.js";
import { cleanup, installSignalHandlers, onCleanup } from "./processes.js";

const REQUEST_TIMEOUT_MS = 15_000; // a client gives up after this: the request counts as unanswered
const WARM_UP_MS = 1500;

export interface DeployRow {
  clients: number;
  workers: number;
  afterSignal: number; // requests answered (any status < 500) that were sent after SIGTERM
  resets: number;
  notCounted: number; // failures before the signal, or of clients not yet answered once: start-up, apart
  serverErrors: number;
  unanswered: number;
  refused: number;
  lastAnswerMs: number; // after SIGTERM
  exitCode: number | null;
  exitMs: number;
}

type Outcome = "ok" | "5xx" | "reset" | "refused" | "timeout";
const resetCodes = new Map<string, number>(); // error code -> count, printed with each row

export function once(agent: Agent | false, base: string, path: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(`${base}${path}`, { agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on("end", () => resolve((res.statusCode ?? 0) >= 500 ? "5xx" : "ok"));
      res.on("error", () => resolve("reset"));
    });
    req.on("timeout", () => {
      req.destroy();
      resolve("timeout");
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED") return resolve("refused");
      const code = err.code ?? err.message;
      resetCodes.set(code, (resetCodes.get(code) ?? 0) + 1);
      resolve("reset");
    });
    req.end();
  });
}

/** The real entry point as a process (production mode) on the shared Redis and PostgreSQL; `extra` env wins. */
export async function startServer(
  workers: number,
  delayMs: number,
  dir: string,
  extra: NodeJS.ProcessEnv = {},
) {
  const port = await freePort();
  const logFile = join(dir, `server-${port}.log`);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(port),
    LOG_LEVEL: process.env.DEPLOY_DEBUG ? "info" : "warn",
    WEB_CONCURRENCY: String(workers),
    REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    SESSION_SECRET: randomBytes(48).toString("base64"),
    MFA_ENCRYPTION_KEY: randomBytes(48).toString("base64"),
    // The origin production needs named (mails, passkeys): the one it used to fall back to.
    PUBLIC_URL: `http://localhost:${port}`,
    COOKIE_SECURE: "false",
    TRUST_PROXY: "0",
    KEY_PREFIX: `deploy-${randomBytes(3).toString("hex")}`,
    DATABASE_URL: process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
    DATABASE_SCHEMA: `deploy_${randomBytes(4).toString("hex")}`,
    SHUTDOWN_DELAY_MS: String(delayMs),
    RATE_LIMIT_GLOBAL_LIMIT: "1000000000",
    RATE_LIMIT_API_LIMIT: "1000000000",
    ...extra,
  };
  const fd = openSync(logFile, "w");
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
    env,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  onCleanup(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  const probe = new Agent({ keepAlive: false });
  while ((await once(probe, base, "/health/ready")) !== "ok") {
    if (child.exitCode !== null)
      throw new Error(`server exited:\n${readFileSync(logFile, "utf8").slice(-2000)}`);
    if (Date.now() > deadline) throw new Error("server not ready after 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, base, logFile };
}

/** One deploy: `clients` loops, each on its own keep-alive connection, through a SIGTERM. */
export async function deployRun(options: {
  clients: number;
  workers: number;
  path: string;
  delayMs: number;
  dir: string;
}): Promise<DeployRow> {
  const { child, base, logFile } = await startServer(options.workers, options.delayMs, options.dir);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let signalAt = 0;
  let stopped = false;
  let connections = 0;
  const row: DeployRow = {
    clients: options.clients,
    workers: options.workers,
    afterSignal: 0,
    resets: 0,
    notCounted: 0,
    serverErrors: 0,
    unanswered: 0,
    refused: 0,
    lastAnswerMs: 0,
    exitCode: null,
    exitMs: 0,
  };
  const answeredAgents = new Set<Agent>();
  const midStreamAtSignal = new Set<Agent>();
  let midStream = 0; // clients answered at least once: their connection is established and accepted
  const client = async () => {
    let answered = false;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agent.on("free", () => undefined);
    const createConnection = agent.createConnection.bind(agent);
    agent.createConnection = (...args: Parameters<typeof createConnection>) => {
      connections++;
      return createConnection(...args);
    };
    while (!stopped) {
      const sentAt = performance.now();
      const outcome = await once(agent, base, options.path);
      const afterSignal = signalAt > 0 && sentAt >= signalAt;
      if (outcome === "ok" && !answered) {
        answered = true;
        answeredAgents.add(agent);
        midStream++;
      }
      if (outcome === "refused") {
        // The listener is closed: a real client goes to the new instance now.
        if (signalAt > 0) row.refused++;
        break;
      }
      if (signalAt === 0 || !midStreamAtSignal.has(agent)) {
        // Before the signal, or a client whose connection was not yet established then: start-up.
        if (outcome !== "ok") row.notCounted++;
        continue;
      }
      if (outcome === "reset") {
        row.resets++;
        if (process.env.DEPLOY_DEBUG)
          process.stderr.write(
            `reset sent ${Math.round(sentAt - signalAt)} at ${Math.round(performance.now() - signalAt)} ms\n`,
          );
      } else if (outcome === "5xx") row.serverErrors++;
      else if (outcome === "timeout") row.unanswered++;
      else if (afterSignal) {
        row.afterSignal++;
        row.lastAnswerMs = Math.max(row.lastAnswerMs, performance.now() - signalAt);
      }
    }
    agent.destroy();
  };
  const loops = Array.from({ length: options.clients }, client);
  // Every client mid-stream first: a burst of new connections on a loaded machine can sit in the accept
  // queue for seconds, which is start-up, not the deploy being measured.
  const warmUntil = Date.now() + WARM_UP_MS;
  const warmLimit = Date.now() + 60_000;
  while (Date.now() < warmUntil || (midStream < options.clients && Date.now() < warmLimit))
    await new Promise((r) => setTimeout(r, 50));
  for (const agent of answeredAgents) midStreamAtSignal.add(agent);
  signalAt = performance.now();
  if (process.env.DEPLOY_DEBUG) process.stderr.write(`signal at ${Date.now()} connections=${connections}\n`);
  child.kill("SIGTERM");
  row.exitCode = await exited;
  row.exitMs = Math.round(performance.now() - signalAt);
  stopped = true;
  await Promise.all(loops);
  row.lastAnswerMs = Math.round(row.lastAnswerMs);
  if (process.env.DEPLOY_DEBUG) process.stderr.write(readFileSync(logFile, "utf8"));
  return row;
}

export function deployTable(rows: DeployRow[]): string {
  const lines = [
    "| clients | workers | answered after SIGTERM | resets | 5xx | unanswered | refused | last answer ms | exit | exit ms |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.clients} | ${r.workers} | ${r.afterSignal} | ${r.resets} | ${r.serverErrors} | ${r.unanswered} | ${r.refused} | ${r.lastAnswerMs} | ${r.exitCode} | ${r.exitMs} |`,
    );
  }
  return lines.join("\n");
}

async function main() {
  installSignalHandlers();
  const { values } = parseArgs({
    options: {
      clients: { type: "string", default: "50,200" },
      workers: { type: "string", default: "1,2" },
      path: { type: "string", default: "/auth/me" },
      delay: { type: "string", default: "2000" },
      runs: { type: "string", default: "1" },
    },
  });
  const dir = mkdtempSync(join(tmpdir(), "deploy-bench-"));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const rows: DeployRow[] = [];
  try {
    for (let run = 0; run < Number(values.runs); run++) {
      for (const workers of values.workers.split(",").map(Number)) {
        for (const clients of values.clients.split(",").map(Number)) {
          const row = await deployRun({
            clients,
            workers,
            path: values.path,
            delayMs: Number(values.delay),
            dir,
          });
          process.stderr.write(`${JSON.stringify({ ...row, resetCodes: Object.fromEntries(resetCodes) })}\n`);
          resetCodes.clear();
          rows.push(row);
        }
      }
    }
    process.stdout.write(`${deployTable(rows)}\n`);
  } finally {
    await cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
