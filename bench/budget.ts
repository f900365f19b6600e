import type { BenchOptions } from "./options.js";
import type { Phase, RoundTripSample } from "./scenarios.js";
import { fmt, spread } from "./stats.js";

/** The product's hash concurrency default (PASSWORD_HASH_CONCURRENCY); the bench does not change it. */
const HASH_CONCURRENCY = 2;
const SCRYPT_R = 8;
const ALLOWANCE_MIB = 64; // sessions, buffers and allocator slack on top of the hashes

export interface BudgetLine {
  line: string;
  met: boolean | undefined;
  detail: string;
}

function medianOf(phases: Phase[], scenario: string, target: string, value: (p: Phase) => number) {
  return spread(phases.filter((p) => p.scenario === scenario && p.target === target).map(value)).median;
}

function pairedRatio(phases: Phase[], scenario: string, value: (p: Phase) => number) {
  const ratios: number[] = [];
  for (const o of phases.filter((p) => p.scenario === scenario && p.target === "ours")) {
    const b = phases.find((p) => p.scenario === scenario && p.target === "baseline" && p.round === o.round);
    if (b && value(b) !== 0) ratios.push(value(o) / value(b));
  }
  return spread(ratios);
}

/** Checks the performance budget of the benchmarks issue against one run's numbers. */
export function checkBudget(opts: BenchOptions, phases: Phase[], samples: RoundTripSample[]): BudgetLine[] {
  const lines: BudgetLine[] = [];
  const sample = (scenario: string) => samples.find((s) => s.scenario === scenario && s.target === "ours");
  const has = (scenario: string, target = "ours") =>
    phases.some((p) => p.scenario === scenario && p.target === target);

  if (has("auth") && has("auth", "baseline")) {
    const rps = pairedRatio(phases, "auth", (p) => p.load.rps);
    const p99 = pairedRatio(phases, "auth", (p) => p.load.p99Ms);
    lines.push({
      line: "auth: >= 1.5x the baseline's req/s",
      met: rps.median >= 1.5,
      detail: `${fmt(rps.median)}x [${fmt(rps.min)}-${fmt(rps.max)}]`,
    });
    lines.push({
      line: "auth: p99 no worse than the baseline's",
      met: p99.median <= 1,
      detail: `${fmt(p99.median)}x [${fmt(p99.min)}-${fmt(p99.max)}]`,
    });
  }
  // The network target: with a round trip between app and Redis (--net-delay) and one connection, a
  // request's latency is mostly round trips, where one round trip against three should show.
  if (opts.netDelayMs > 0 && opts.connections === 1 && has("auth") && has("auth", "baseline")) {
    const p50 = pairedRatio(phases, "auth", (p) => p.load.p50Ms);
    lines.push({
      line: `auth over a ${fmt(opts.netDelayMs * 2)} ms round trip, 1 connection: p50 at most half the baseline's`,
      met: p50.median <= 0.5,
      detail: `${fmt(p50.median)}x [${fmt(p50.min)}-${fmt(p50.max)}]`,
    });
  }
  const auth = sample("auth");
  if (auth) {
    lines.push({
      line: "auth: <= 2 Redis commands per request",
      met: auth.commandsPerReq <= 2.0001,
      detail: `${fmt(auth.commandsPerReq)} sent (${Object.entries(auth.pattern)
        .map(([c, n]) => `${c} x${fmt(n)}`)
        .join(", ")})`,
    });
    lines.push({
      line: "auth: <= 1 Redis round trip per request",
      met: auth.roundTripsPerReq <= 1.05,
      detail: `${fmt(auth.roundTripsPerReq)} (socket reads per request, one request in flight)`,
    });
  }
  if (has("cache") && has("ceiling")) {
    const cache = medianOf(phases, "cache", "ours", (p) => p.load.rps);
    const ceiling = medianOf(phases, "ceiling", "ours", (p) => p.load.rps);
    lines.push({
      line: "cache hit: within 15% of the ceiling's req/s",
      met: cache >= ceiling * 0.85,
      detail: `${fmt(cache)} vs ${fmt(ceiling)} req/s (${fmt((cache / ceiling) * 100)}%)`,
    });
  }
  const cache = sample("cache");
  if (cache) {
    lines.push({
      line: "cache hit: no Redis command for the cache (L1 hit)",
      met: cache.cacheCommandsPerReq === 0,
      detail: `${fmt(cache.cacheCommandsPerReq)} commands on cache keys per request`,
    });
  }
  const sustained = phases.find((p) => p.scenario === "sustained" && p.target === "ours");
  if (sustained?.rssSamples?.length) {
    const s = sustained.rssSamples;
    const at10 = s.find((x) => x.atS >= 10) ?? (s[0] as { rssMiB: number });
    const last = s[s.length - 1] as { atS: number; rssMiB: number };
    const growth = last.rssMiB / at10.rssMiB - 1;
    lines.push({
      line: `sustained: RSS after ${Math.round(last.atS)} s within 10% of RSS after 10 s`,
      met: growth <= 0.1,
      detail: `${fmt(at10.rssMiB)} -> ${fmt(last.rssMiB)} MiB (${growth >= 0 ? "+" : ""}${fmt(growth * 100)}%)`,
    });
  }
  const login = phases.find((p) => p.scenario === "login" && p.target === "ours");
  if (login?.peakRssMiB !== undefined) {
    const perHashMiB = (128 * 2 ** opts.passwordLogN * SCRYPT_R) / 2 ** 20;
    const bound = login.rssBeforeMiB + HASH_CONCURRENCY * perHashMiB + ALLOWANCE_MIB;
    lines.push({
      line: `login: peak RSS bounded by the hash concurrency (${HASH_CONCURRENCY} x ${fmt(perHashMiB)} MiB)`,
      met: login.peakRssMiB <= bound,
      detail: `peak ${fmt(login.peakRssMiB)} MiB <= ${fmt(login.rssBeforeMiB)} + ${HASH_CONCURRENCY} x ${fmt(perHashMiB)} + ${ALLOWANCE_MIB} = ${fmt(bound)} MiB`,
    });
  }
  return lines;
}
