import { Redis } from "ioredis";
import { type LoadResult, type LoadSpec, runAutocannon, runWrk, sequential } from "./load.js";
import type { BenchOptions, ScenarioName } from "./options.js";
import { cpuMicros, memory, sampleRss } from "./proc-stats.js";
import { delta, monitor, SCRIPT_COMMANDS, snapshot } from "./redis-stats.js";
import { spread } from "./stats.js";
import { BENCH_EMAIL, BENCH_PASSWORD, type Target } from "./targets.js";

export interface Phase {
  scenario: ScenarioName;
  target: string;
  round: number;
  load: LoadResult;
  /** Every command Redis executed per request, including those run inside Lua scripts (INFO commandstats). */
  redisCommandsPerReq: number;
  /** EVALSHA and friends per request: used to take script-internal commands out of the count. */
  scriptCallsPerReq: number;
  redisByCommandPerReq: Record<string, number>;
  /** Socket reads Redis processed per request under load: how many writes the app made per request. */
  redisWritesPerReq: number;
  cpuUsPerReq: number;
  /** Share of one core the server used during the phase. */
  cpuCores: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  peakRssMiB?: number;
  rssSamples?: Array<{ atS: number; rssMiB: number }>;
  /**
   * With the delay proxy: median PING round trip through it and straight to Redis during the measured
   * load (ms), and the proxy's CPU.
   */
  proxy?: { rttMs: number; directRttMs: number; pings: number; cpuCores: number };
}

export interface RoundTripSample {
  scenario: ScenarioName;
  target: string;
  requests: number;
  /**
   * Times per request the app waited for Redis, with one request in flight: Redis socket reads per
   * request (INFO total_reads_processed). Commands written together (a pipeline, or ioredis
   * auto-pipelining of commands issued in the same event-loop turn) arrive in one read.
   */
  roundTripsPerReq: number;
  /** Commands the app sent per request (MONITOR; not counting what its scripts ran). */
  commandsPerReq: number;
  /** Commands a script ran per script call (to correct INFO commandstats counts under load). */
  scriptCommandsPerCall: number;
  /** Commands sent per request, by name (MONITOR), e.g. {"evalsha": 2}. */
  pattern: Record<string, number>;
  /** Commands per request that touch a cache key (`<prefix>:cache:...`): 0 on an L1 hit. */
  cacheCommandsPerReq: number;
}

export const SCENARIO_TITLES: Record<ScenarioName, string> = {
  ceiling: "GET /health/live (no session: the ceiling)",
  auth: "GET /auth/me with a session cookie (every production middleware)",
  bearer: "GET /auth/me with a bearer session token (Authorization: Bearer, from POST /auth/token)",
  pat: "GET /auth/me with a personal access token (cached grant, no session)",
  "forward-auth": "GET /auth/verify as a reverse proxy asks it (session cookie, X-Forwarded-*)",
  cache: "GET /api/models, cache hit (fake OpenAI on loopback)",
  sustained: "GET /auth/me for a long run, RSS sampled every 5 s",
  login: "POST /auth/login, concurrent logins at the production password cost",
};

/** What nginx `auth_request` or Caddy `forward_auth` adds to the visitor's own headers. */
export const FORWARDED = {
  "x-forwarded-method": "GET",
  "x-forwarded-proto": "https",
  "x-forwarded-host": "app.example.com",
  "x-forwarded-uri": "/dashboard",
};

export function specFor(scenario: ScenarioName, target: Target, opts: BenchOptions): LoadSpec {
  const base = target.server.url;
  switch (scenario) {
    case "ceiling":
      return { url: `${base}/health/live`, connections: opts.connections, durationS: opts.durationS };
    case "auth":
      return {
        url: `${base}/auth/me`,
        headers: { cookie: target.cookie },
        connections: opts.connections,
        durationS: opts.durationS,
      };
    case "bearer":
    case "pat":
      return {
        url: `${base}/auth/me`,
        headers: { authorization: `Bearer ${scenario === "bearer" ? target.bearer : target.pat}` },
        connections: opts.connections,
        durationS: opts.durationS,
      };
    case "forward-auth":
      return {
        url: `${base}/auth/verify`,
        headers: { cookie: target.cookie, ...FORWARDED },
        connections: opts.connections,
        durationS: opts.durationS,
      };
    case "sustained":
      return {
        url: `${base}/auth/me`,
        headers: { cookie: target.cookie },
        connections: opts.connections,
        durationS: opts.sustainedS,
      };
    case "cache":
      return {
        url: `${base}/api/models`,
        headers: { cookie: target.cookie },
        connections: opts.connections,
        durationS: opts.durationS,
      };
    case "login":
      return {
        url: `${base}/auth/login`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: BENCH_EMAIL, password: BENCH_PASSWORD }),
        connections: opts.loginConnections,
        durationS: opts.loginDurationS,
      };
  }
}

function drive(spec: LoadSpec, tool: "wrk" | "autocannon"): Promise<LoadResult> {
  return tool === "wrk" && (spec.method ?? "GET") === "GET" ? runWrk(spec) : runAutocannon(spec);
}

const PROBE_INTERVAL_MS = 100;

/**
 * PINGs the server's Redis through the delay proxy and straight, one after the other, every 100 ms
 * until stopped: the round trip the server sees under load, and what a busy machine adds to any round
 * trip (the difference is what the proxy adds). The harness's event loop is idle with wrk; autocannon
 * runs in it and would inflate both.
 */
async function startRoundTripProbe(viaUrl: string, directUrl: string) {
  const clients = [viaUrl, directUrl].map((url) => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    client.on("error", () => undefined);
    return client;
  });
  await Promise.all(clients.map((c) => c.connect()));
  const times = clients.map(() => [] as number[]);
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      for (const [k, client] of clients.entries()) {
        const start = performance.now();
        await client.ping();
        times[k]?.push(performance.now() - start);
      }
      await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      for (const c of clients) c.disconnect();
      const [via = [], direct = []] = times;
      return { rttMs: spread(via).median, directRttMs: spread(direct).median, pings: via.length };
    },
  };
}

/** One measured phase: warm-up (unmeasured), then load with Redis, CPU and memory read before and after. */
export async function runPhase(
  scenario: ScenarioName,
  target: Target,
  round: number,
  opts: BenchOptions,
  tool: "wrk" | "autocannon",
  control: Redis,
): Promise<Phase> {
  const spec = specFor(scenario, target, opts);
  if (scenario !== "login" && opts.warmupS > 0) await drive({ ...spec, durationS: opts.warmupS }, tool);
  const pid = target.server.pid;
  const probe = target.proxyPid
    ? await startRoundTripProbe(target.serverRedisUrl, target.redis.url)
    : undefined;
  const proxyCpuBefore = target.proxyPid ? cpuMicros(target.proxyPid) : 0;
  const redisBefore = await snapshot(control);
  const cpuBefore = cpuMicros(pid);
  const memBefore = memory(pid);
  const started = process.hrtime.bigint();
  const rss = sampleRss(pid, scenario === "sustained" ? 5000 : 100);
  const load = await drive(spec, tool);
  const sampled = rss.stop();
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = cpuMicros(pid) - cpuBefore;
  const memAfter = memory(pid);
  const proxyCpu = target.proxyPid ? cpuMicros(target.proxyPid) - proxyCpuBefore : 0;
  const redis = delta(redisBefore, await snapshot(control));
  const probed = await probe?.stop();
  if (probed) {
    // The probe's PINGs (via the proxy and direct) are the harness's, not the app's.
    const pings = Math.min(2 * probed.pings, redis.byCommand.ping ?? 0);
    redis.commands -= pings;
    redis.reads -= pings;
    if (redis.byCommand.ping !== undefined) redis.byCommand.ping -= pings;
    if (redis.byCommand.ping === 0) delete redis.byCommand.ping;
  }
  const n = Math.max(load.requests, 1);
  const byCommand: Record<string, number> = {};
  for (const [name, count] of Object.entries(redis.byCommand)) byCommand[name] = count / n;
  return {
    scenario,
    target: target.name,
    round,
    load,
    redisCommandsPerReq: redis.commands / n,
    scriptCallsPerReq: SCRIPT_COMMANDS.reduce((sum, c) => sum + (redis.byCommand[c] ?? 0), 0) / n,
    redisByCommandPerReq: byCommand,
    redisWritesPerReq: redis.reads / n,
    cpuUsPerReq: cpu / n,
    cpuCores: cpu / 1e6 / wallS,
    rssBeforeMiB: memBefore.rssMiB,
    rssAfterMiB: memAfter.rssMiB,
    peakRssMiB: scenario === "login" ? Math.max(memAfter.peakMiB, sampled.maxMiB) : undefined,
    rssSamples: scenario === "sustained" ? sampled.samples : undefined,
    proxy: probed && { ...probed, cpuCores: proxyCpu / 1e6 / wallS },
  };
}

const SAMPLE_REQUESTS = 200;
const SAMPLE_LOGINS = 10; // each costs a full password hash

/**
 * Round trips at light load: `SAMPLE_REQUESTS` requests one at a time, counting Redis socket reads
 * (one per write the app makes, however many commands it carries) while MONITOR records which
 * commands arrive.
 */
export async function roundTripSample(
  scenario: ScenarioName,
  target: Target,
  opts: BenchOptions,
  control: Redis,
): Promise<RoundTripSample> {
  const spec = specFor(scenario, target, opts);
  const count = scenario === "login" ? SAMPLE_LOGINS : SAMPLE_REQUESTS;
  await sequential(spec, scenario === "login" ? 1 : 20); // a warm connection and warm caches
  const before = await snapshot(control);
  const { events } = await monitor(target.redis.url, () => sequential(spec, count));
  const after = await snapshot(control);
  const d = delta(before, after);
  const sent = events.filter((e) => !e.fromScript);
  const pattern: Record<string, number> = {};
  for (const e of sent) pattern[e.command] = (pattern[e.command] ?? 0) + 1 / count;
  const scriptCalls = sent.filter((e) => SCRIPT_COMMANDS.includes(e.command)).length;
  return {
    scenario,
    target: target.name,
    requests: count,
    // Less the MONITOR connection's own MONITOR command (one read).
    roundTripsPerReq: (d.reads - 1) / count,
    commandsPerReq: sent.length / count,
    scriptCommandsPerCall: scriptCalls ? (events.length - sent.length) / scriptCalls : 0,
    cacheCommandsPerReq: sent.filter((e) => e.args.some((a) => a.includes(":cache:"))).length / count,
    pattern,
  };
}
