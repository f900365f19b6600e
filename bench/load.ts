import { execFile, execFileSync } from "node:child_process";
import autocannon from "autocannon";

export interface LoadSpec {
  url: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  durationS: number;
}

export interface LoadResult {
  tool: "wrk" | "autocannon";
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses that were not 2xx, plus socket errors and timeouts: a phase with many is not valid. */
  failures: number;
  statusCounts: Record<string, number>;
}

export function wrkInstalled(): boolean {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
    return true;
  } catch (err) {
    // wrk prints its version and exits 1; only a missing binary is ENOENT.
    return (err as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

/** Drives load with autocannon in this process (used for POST bodies, and when wrk is absent). */
export async function runAutocannon(spec: LoadSpec): Promise<LoadResult> {
  const started = process.hrtime.bigint();
  const result = await autocannon({
    url: spec.url,
    method: spec.method ?? "GET",
    headers: spec.headers,
    body: spec.body,
    connections: spec.connections,
    duration: spec.durationS,
    timeout: 60, // seconds: logins at the production hash cost queue for several seconds
  });
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  const statusCounts: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCounts[code] = count;
  const requests = result.requests.total;
  const durationS = result.duration || elapsedS;
  return {
    tool: "autocannon",
    requests,
    durationS,
    rps: requests / durationS,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
    statusCounts,
  };
}

function wrkMs(value: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim());
  if (!match) throw new Error(`unexpected wrk latency "${value}"`);
  const n = Number(match[1]);
  return match[2] === "us" ? n / 1000 : match[2] === "ms" ? n : match[2] === "s" ? n * 1000 : n * 60_000;
}

/** Drives GET load with wrk (one thread: it leaves the machine's second core to the server and Redis). */
export function runWrk(spec: LoadSpec): Promise<LoadResult> {
  if (spec.method && spec.method !== "GET") throw new Error("the wrk driver only sends GET");
  const args = ["-t1", `-c${spec.connections}`, `-d${spec.durationS}s`, "--latency", "--timeout", "10s"];
  for (const [name, value] of Object.entries(spec.headers ?? {})) args.push("-H", `${name}: ${value}`);
  args.push(spec.url);
  return new Promise((resolve, reject) => {
    execFile("wrk", args, { encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${stderr || err.message}`));
      try {
        const total = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(stdout);
        if (!total) throw new Error("no request count");
        const unit = total[3] === "ms" ? 0.001 : total[3] === "m" ? 60 : 1;
        const durationS = Number(total[2]) * unit;
        const requests = Number(total[1]);
        const pct = (p: string) => {
          const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(stdout);
          if (!m) throw new Error(`no ${p}% latency`);
          return wrkMs(m[1] as string);
        };
        const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
        const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
        const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
        resolve({
          tool: "wrk",
          requests,
          durationS,
          rps: requests / durationS,
          p50Ms: pct("50"),
          p99Ms: pct("99"),
          failures: non2xx + socketErrors,
          statusCounts: non2xx ? { non2xx_or_3xx: non2xx } : {},
        });
      } catch (parseErr) {
        reject(new Error(`cannot read wrk output (${(parseErr as Error).message}):\n${stdout}`));
      }
    });
  });
}

/** Sends `count` requests one after another on one connection (for round-trip samples at light load). */
export async function sequential(spec: Omit<LoadSpec, "connections" | "durationS">, count: number) {
  let failures = 0;
  for (let i = 0; i < count; i++) {
    const res = await fetch(spec.url, {
      method: spec.method ?? "GET",
      headers: spec.headers,
      body: spec.body,
    });
    await res.arrayBuffer();
    if (res.status < 200 || res.status >= 300) failures++;
  }
  return { failures };
}
