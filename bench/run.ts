/**
 * `npm run bench`: the product against the stock setup (bench/baseline), interleaved on one machine.
 * See `npm run bench -- --help` and docs/internals/benchmarks.md.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { startFakeOpenAI } from "../tests/helpers/fake-openai.js";
import { checkBudget } from "./budget.js";
import { wrkInstalled } from "./load.js";
import { type BenchOptions, parseOptions, type ScenarioName, USAGE } from "./options.js";
import { cleanup, installSignalHandlers, onCleanup, wasInterrupted } from "./processes.js";
import { patternLine, type ScenarioSummary, summarize, sustainedLines, tableRows } from "./report.js";
import { type Phase, type RoundTripSample, roundTripSample, runPhase, SCENARIO_TITLES } from "./scenarios.js";
import { markdownTable, textTable } from "./stats.js";
import { startTarget, type Target, type TargetContext } from "./targets.js";

const ROOT = resolve(import.meta.dirname, "..");

function log(line: string) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

function version(cmd: string, args: string[]): string {
  try {
    return (
      execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
        .trim()
        .split("\n")[0] ?? ""
    );
  } catch (err) {
    // wrk prints its version and exits 1
    const out = (err as { stdout?: string }).stdout ?? "";
    return out.trim().split("\n")[0] || "not installed";
  }
}

function packageVersion(name: string): string {
  try {
    return JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
}

function machine() {
  return {
    cpu: cpus()[0]?.model ?? "?",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    redis: version("redis-server", ["--version"]),
    wrk: version("wrk", ["--version"]),
    loadAverageAtStart: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
    packages: Object.fromEntries(
      [
        "express",
        "express-session",
        "connect-redis",
        "ioredis",
        "passport",
        "helmet",
        "express-rate-limit",
        "rate-limit-redis",
        "autocannon",
      ].map((p) => [p, packageVersion(p)]),
    ),
  };
}

async function databaseEnv(opts: BenchOptions): Promise<Record<string, string>> {
  if (!opts.databaseUrl) {
    const dir = mkdtempSync(join(tmpdir(), "bench-pglite-"));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    log("database: embedded PGlite (set BENCH_DATABASE_URL or TEST_DATABASE_URL for PostgreSQL)");
    return { DATA_DIR: dir };
  }
  const schema = `bench_${randomBytes(5).toString("hex")}`;
  const url = opts.databaseUrl;
  onCleanup(async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });
  log(`database: PostgreSQL, schema ${schema} (dropped at the end)`);
  return { DATABASE_URL: url, DATABASE_SCHEMA: schema };
}

async function main() {
  const opts = parseOptions(process.argv.slice(2), process.env);
  if (opts === "help") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  installSignalHandlers();
  const tool = opts.tool === "auto" ? (wrkInstalled() ? "wrk" : "autocannon") : opts.tool;
  if (tool === "wrk" && !wrkInstalled())
    throw new Error("--tool wrk: wrk is not installed (apt-get install wrk)");
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const outDir = resolve(ROOT, opts.outDir);
  const logDir = join(outDir, `logs-${stamp}`);
  mkdirSync(logDir, { recursive: true });
  const profileDir = opts.profile ? join(outDir, `profiles-${stamp}`) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const info = machine();
  log(
    `tool ${tool}, ${opts.connections} connections, ${opts.warmupS} s warm-up + ${opts.durationS} s x ${opts.rounds} rounds`,
  );
  log(`machine: ${info.cores} x ${info.cpu}, load average ${info.loadAverageAtStart}`);

  const fake = await startFakeOpenAI({ apiKey: "sk-bench-0123456789" });
  onCleanup(() => fake.close());
  const ctx: TargetContext = {
    cwd: ROOT,
    logDir,
    passwordLogN: opts.passwordLogN,
    openaiBaseUrl: fake.baseUrl,
    databaseEnv: await databaseEnv(opts),
    profileDir,
    oursNodeArgs: opts.oursNodeArgs,
    netDelayMs: opts.netDelayMs,
    oursWorkers: opts.oursWorkers,
  };
  if (opts.oursWorkers > 1 && !opts.databaseUrl)
    throw new Error(
      "--ours-workers > 1: set BENCH_DATABASE_URL or TEST_DATABASE_URL (workers cannot share PGlite)",
    );

  const targets: Target[] = [];
  for (const name of opts.targets) {
    log(`starting ${name}...`);
    const target = await startTarget(name, ctx);
    targets.push(target);
    log(
      `${name}: pid ${target.server.pid} on ${target.server.url}, Redis on ${target.redis.port}, round trip ${target.redisRttMs.toFixed(2)} ms${opts.netDelayMs > 0 ? ` (proxy, ${opts.netDelayMs} ms each way; direct ${target.redisDirectRttMs.toFixed(2)} ms, ${target.proxyTrimMs?.toFixed(3)} ms taken off each way for the proxy's own hops)` : ""}${name === "ours" && opts.oursWorkers > 1 ? `, ${opts.oursWorkers} workers` : ""}`,
    );
    for (const [scenario, why] of Object.entries(target.unavailable))
      log(`${name}: skipping ${scenario}: ${why}`);
  }
  const controls = new Map<string, Redis>();
  for (const t of targets) {
    const client = new Redis(t.redis.url);
    client.on("error", () => undefined);
    onCleanup(() => client.disconnect());
    controls.set(t.name, client);
  }
  const control = (t: Target) => controls.get(t.name) as Redis;

  const phases: Phase[] = [];
  const samples: RoundTripSample[] = [];
  const loadScenarios = opts.scenarios.filter((s) => s !== "sustained" && s !== "login");
  for (const scenario of loadScenarios) {
    const runnable = targets.filter((t) => !t.unavailable[scenario]);
    if (runnable.length === 0) continue;
    for (let round = 1; round <= opts.rounds; round++) {
      // A B, then B A: a steady drift of the machine favours neither side.
      const order = round % 2 === 1 ? runnable : [...runnable].reverse();
      for (const t of order) {
        const phase = await runPhase(scenario, t, round, opts, tool, control(t));
        phases.push(phase);
        log(
          `${scenario} round ${round} ${t.name}: ${Math.round(phase.load.rps)} req/s, p99 ${phase.load.p99Ms.toFixed(2)} ms, ${phase.redisCommandsPerReq.toFixed(2)} cmd/req, ${Math.round(phase.cpuUsPerReq)} us/req${phase.proxy ? `, Redis round trip ${phase.proxy.rttMs.toFixed(2)} ms (direct ${phase.proxy.directRttMs.toFixed(2)} ms)` : ""}${phase.load.failures ? `, ${phase.load.failures} FAILED` : ""}`,
        );
      }
    }
    for (const t of runnable) samples.push(await roundTripSample(scenario, t, opts, control(t)));
  }
  for (const scenario of ["sustained", "login"] as const) {
    if (!opts.scenarios.includes(scenario)) continue;
    for (const t of targets) samples.push(await roundTripSample(scenario, t, opts, control(t)));
    for (const t of targets) {
      log(`${scenario} ${t.name}...`);
      const phase = await runPhase(scenario, t, 1, opts, tool, control(t));
      phases.push(phase);
      log(
        `${scenario} ${t.name}: ${phase.load.rps.toFixed(1)} req/s, p99 ${phase.load.p99Ms.toFixed(1)} ms, RSS ${Math.round(phase.rssBeforeMiB)} -> ${Math.round(phase.rssAfterMiB)} MiB${phase.peakRssMiB ? `, peak ${Math.round(phase.peakRssMiB)} MiB` : ""}${phase.load.failures ? `, ${phase.load.failures} FAILED` : ""}`,
      );
    }
  }

  const summaries: ScenarioSummary[] = opts.scenarios.map((s) => summarize(s, phases, samples));
  const out: string[] = [];
  const md: string[] = [];
  out.push(
    `# bench ${startedAt.toISOString()}  (${tool}, ${opts.connections} connections, ${opts.durationS} s x ${opts.rounds} rounds)`,
  );
  out.push(`# ${info.cores} x ${info.cpu}, node ${info.node}, ${info.redis}`);
  out.push(
    `# load average (1, 5, 15 min) at start ${info.loadAverageAtStart}, at end ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`,
  );
  out.push(
    `# app <-> Redis: ${opts.netDelayMs > 0 ? `TCP proxy adding ${opts.netDelayMs} ms each way` : "direct loopback"}; measured round trip before the load (median of 50 PINGs) ${targets.map((t) => `${t.name} ${t.redisRttMs.toFixed(2)} ms${t.proxyPid ? ` (direct ${t.redisDirectRttMs.toFixed(2)} ms; delay trimmed by ${t.proxyTrimMs?.toFixed(3)} ms each way)` : ""}`).join(", ")}; ours ${opts.oursWorkers} worker(s)`,
  );
  for (const s of summaries) {
    out.push("", `## ${s.scenario}: ${SCENARIO_TITLES[s.scenario as ScenarioName]}`);
    md.push("", `### ${s.scenario}: ${SCENARIO_TITLES[s.scenario as ScenarioName]}`, "");
    if (s.rows.length > 0) {
      out.push(textTable(tableRows(s)));
      md.push(markdownTable(tableRows(s)), "");
    }
    for (const rt of s.roundTrips) {
      out.push(`Redis commands sent per request (MONITOR): ${patternLine(rt)}`);
      md.push(`- Redis commands sent per request (MONITOR): ${patternLine(rt)}`);
    }
    if (s.scenario === "sustained") {
      out.push(...sustainedLines(phases));
      md.push(...sustainedLines(phases).map((l) => `- ${l}`));
    }
    for (const t of targets)
      if (t.unavailable[s.scenario]) out.push(`${t.name}: skipped (${t.unavailable[s.scenario]})`);
  }
  const budget = checkBudget(opts, phases, samples);
  if (budget.length > 0) {
    out.push("", "## budget");
    md.push("", "### Budget", "", "| line | met | measured |", "| --- | --- | --- |");
    for (const b of budget) {
      out.push(`[${b.met ? "met" : "NOT met"}] ${b.line}: ${b.detail}`);
      md.push(`| ${b.line} | ${b.met ? "yes" : "**no**"} | ${b.detail} |`);
    }
  }
  const failed = phases.filter((p) => p.load.failures > p.load.requests * 0.01);
  if (failed.length > 0) {
    out.push(
      "",
      `WARNING: ${failed.length} phase(s) had more than 1% failed requests; their numbers are not valid:`,
    );
    for (const p of failed)
      out.push(`  ${p.scenario} round ${p.round} ${p.target}: ${JSON.stringify(p.load.statusCounts)}`);
  }
  process.stdout.write(`${out.join("\n")}\n`);
  // The same tables in Markdown, for docs/internals/benchmarks.md.
  writeFileSync(join(outDir, `bench-${stamp}.md`), `${out.slice(0, 4).join("\n")}\n${md.join("\n")}\n`);

  const file = join(outDir, `bench-${stamp}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt,
        finishedAt: new Date(),
        tool,
        options: opts,
        targets: targets.map((t) => ({
          name: t.name,
          redisRttMs: t.redisRttMs,
          redisDirectRttMs: t.redisDirectRttMs,
          proxyTrimMs: t.proxyTrimMs,
        })),
        machine: {
          ...info,
          loadAverageAtEnd: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
        },
        summaries,
        budget,
        phases,
        roundTripSamples: samples,
        text: out.join("\n"),
      },
      null,
      2,
    )}\n`,
  );
  log(
    `results: ${file}${profileDir ? `; CPU profiles in ${profileDir} (written when the servers stop)` : ""}`,
  );
}

main()
  .then(() => cleanup())
  .then(() => process.exit(0))
  .catch(async (err: Error) => {
    if (wasInterrupted()) return; // the signal handler stops everything and exits
    process.stderr.write(`bench failed: ${err.message}\n`);
    await cleanup();
    process.exit(1);
  });
