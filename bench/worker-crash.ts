// Workers SIGKILLed under load (WEB_CONCURRENCY=2), once per scheduling policy: how many requests were
// reset (held by the dying worker: expected), how many waited until the client gave up (a connection
// stranded in the primary), and how evenly the two workers shared the connections.
// Usage: npm run bench:crash [-- --seconds 20] [--clients 20] [--every 2000]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { once, startServer } from "./deploy.js";
import { cleanup, installSignalHandlers, onCleanup } from "./processes.js";

const EVEN_PHASE_MS = 5000;

interface CrashRow {
  scheduling: string;
  kills: number;
  answered: number;
  resets: number;
  refused: number;
  stranded: number; // waited until the client gave up (15 s)
  p99Ms: number;
  maxMs: number;
  busiestShare: number; // of the requests served between kills, the busier worker's share (0.5 is even)
}

function workerPids(logFile: string): { listening: number[]; served: Map<number, number> } {
  const listening: number[] = [];
  const served = new Map<number, number>();
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { msg?: string; pid?: number };
    if (entry.msg === "worker listening" && entry.pid) listening.push(entry.pid);
    if (entry.msg === "request" && entry.pid) served.set(entry.pid, (served.get(entry.pid) ?? 0) + 1);
  }
  return { listening, served };
}

async function run(
  scheduling: string,
  options: { seconds: number; clients: number; everyMs: number },
  dir: string,
) {
  const { child, base, logFile } = await startServer(2, 0, dir, {
    WEB_SCHEDULING: scheduling,
    LOG_LEVEL: "info",
  });
  const times: number[] = [];
  const row: CrashRow = {
    scheduling,
    kills: 0,
    answered: 0,
    resets: 0,
    refused: 0,
    stranded: 0,
    p99Ms: 0,
    maxMs: 0,
    busiestShare: 0,
  };
  let running = true;
  const client = async () => {
    while (running) {
      const started = performance.now();
      const outcome = await once(false, base, "/auth/me");
      times.push(performance.now() - started);
      if (outcome === "ok") row.answered++;
      else if (outcome === "timeout") row.stranded++;
      else if (outcome === "refused") row.refused++;
      else row.resets++;
    }
  };
  const loops = Array.from({ length: options.clients }, client);
  // First a quiet phase: how the two workers share new connections when none dies.
  await new Promise((r) => setTimeout(r, EVEN_PHASE_MS));
  const counts = [...workerPids(logFile).served.values()].sort((a, b) => b - a);
  const pair = (counts[0] ?? 0) + (counts[1] ?? 0);
  row.busiestShare = pair ? Math.round(((counts[0] ?? 0) / pair) * 100) / 100 : 0;
  const killed = new Set<number>();
  const until = Date.now() + options.seconds * 1000;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, options.everyMs));
    const alive = workerPids(logFile).listening.filter((pid) => !killed.has(pid));
    // Only while the other worker serves: with none left the primary closes the socket (refused, not measured).
    if (alive.length < 2) continue;
    const victim = alive[0] as number;
    killed.add(victim);
    process.kill(victim, "SIGKILL");
    row.kills++;
  }
  running = false;
  await Promise.all(loops);
  times.sort((a, b) => a - b);
  row.p99Ms = Math.round(times[Math.floor(times.length * 0.99)] ?? 0);
  row.maxMs = Math.round(times[times.length - 1] ?? 0);
  if (process.env.CRASH_DEBUG) {
    const lines = readFileSync(logFile, "utf8")
      .split("\n")
      .filter((l) => !l.includes('"msg":"request"'));
    process.stderr.write(`${lines.slice(0, 60).join("\n")}\n`);
  }
  child.kill("SIGKILL");
  return row;
}

async function main() {
  installSignalHandlers();
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "20" },
      clients: { type: "string", default: "20" },
      every: { type: "string", default: "2000" },
      scheduling: { type: "string", default: "round-robin,kernel" },
    },
  });
  const dir = mkdtempSync(join(tmpdir(), "crash-bench-"));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const rows: CrashRow[] = [];
  try {
    for (const scheduling of values.scheduling.split(",")) {
      const opts = {
        seconds: Number(values.seconds),
        clients: Number(values.clients),
        everyMs: Number(values.every),
      };
      const row = await run(scheduling, opts, dir);
      process.stderr.write(`${JSON.stringify(row)}\n`);
      rows.push(row);
    }
    const lines = [
      "| scheduling | kills | answered | resets | refused | stranded (client gave up at 15 s) | p99 ms | max ms | busiest worker's share, no kills between |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...rows.map(
        (r) =>
          `| ${r.scheduling} | ${r.kills} | ${r.answered} | ${r.resets} | ${r.refused} | ${r.stranded} | ${r.p99Ms} | ${r.maxMs} | ${r.busiestShare} |`,
      ),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await cleanup();
  }
}

void main();
