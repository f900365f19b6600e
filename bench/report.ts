import type { ScenarioName } from "./options.js";
import type { Phase, RoundTripSample } from "./scenarios.js";
import { fmt, fmtSpread, type Spread, spread } from "./stats.js";

interface Metric {
  label: string;
  value: (p: Phase, sample?: RoundTripSample) => number | undefined;
}

/**
 * INFO commandstats also counts the commands each Lua script runs; the MONITOR sample of the same
 * scenario tells how many a script call runs, which is taken out here.
 */
function sentCommands(p: Phase, sample?: RoundTripSample): number {
  if (p.scriptCallsPerReq === 0) return p.redisCommandsPerReq;
  if (!sample) return Number.NaN;
  return p.redisCommandsPerReq - p.scriptCallsPerReq * sample.scriptCommandsPerCall;
}

const METRICS: Metric[] = [
  { label: "req/s", value: (p) => p.load.rps },
  { label: "p50 ms", value: (p) => p.load.p50Ms },
  { label: "p99 ms", value: (p) => p.load.p99Ms },
  { label: "Redis commands/req (sent by the app)", value: (p, s) => sentCommands(p, s) },
  { label: "Redis commands/req (incl. inside Lua)", value: (p) => p.redisCommandsPerReq },
  { label: "Redis writes/req (under load)", value: (p) => p.redisWritesPerReq },
  { label: "app CPU us/req", value: (p) => p.cpuUsPerReq },
  { label: "app CPU cores", value: (p) => p.cpuCores },
  { label: "RSS before MiB", value: (p) => p.rssBeforeMiB },
  { label: "RSS after MiB", value: (p) => p.rssAfterMiB },
  { label: "peak RSS MiB", value: (p) => p.peakRssMiB },
  { label: "failed requests", value: (p) => p.load.failures },
  { label: "Redis round trip under load ms (PING via the proxy)", value: (p) => p.proxy?.rttMs },
  { label: "Redis round trip under load ms (PING direct)", value: (p) => p.proxy?.directRttMs },
  { label: "delay proxy CPU cores", value: (p) => p.proxy?.cpuCores },
];

export interface ScenarioSummary {
  scenario: ScenarioName;
  rows: Array<{ metric: string; ours?: Spread; baseline?: Spread; ratio?: Spread }>;
  roundTrips: RoundTripSample[];
}

/** Medians per target and the median of the per-round ratios ours/baseline (pairs measured together). */
export function summarize(
  scenario: ScenarioName,
  phases: Phase[],
  samples: RoundTripSample[],
): ScenarioSummary {
  const of = (target: string) => phases.filter((p) => p.scenario === scenario && p.target === target);
  const ours = of("ours");
  const baseline = of("baseline");
  const rt = samples.filter((s) => s.scenario === scenario);
  const sampleOf = (p: Phase) => rt.find((s) => s.target === p.target);
  const rows: ScenarioSummary["rows"] = [];
  for (const m of METRICS) {
    const value = (p: Phase) => m.value(p, sampleOf(p));
    const ov = ours.map(value).filter((v): v is number => v !== undefined);
    const bv = baseline.map(value).filter((v): v is number => v !== undefined);
    if (ov.length === 0 && bv.length === 0) continue;
    const ratios: number[] = [];
    for (const o of ours) {
      const b = baseline.find((x) => x.round === o.round);
      const ovv = value(o);
      const bvv = b ? value(b) : undefined;
      if (ovv !== undefined && bvv !== undefined && bvv !== 0) ratios.push(ovv / bvv);
    }
    rows.push({
      metric: m.label,
      ours: ov.length ? spread(ov) : undefined,
      baseline: bv.length ? spread(bv) : undefined,
      ratio: ratios.length ? spread(ratios) : undefined,
    });
  }
  for (const [label, value] of [
    ["Redis round trips/req (1 request in flight)", (s: RoundTripSample) => s.roundTripsPerReq],
    ["Redis commands sent/req (1 in flight, MONITOR)", (s: RoundTripSample) => s.commandsPerReq],
    ["of which on cache keys", (s: RoundTripSample) => s.cacheCommandsPerReq],
  ] as const) {
    const o = rt.find((s) => s.target === "ours");
    const b = rt.find((s) => s.target === "baseline");
    if (!o && !b) continue;
    rows.push({
      metric: label,
      ours: o ? spread([value(o)]) : undefined,
      baseline: b ? spread([value(b)]) : undefined,
      ratio: o && b && value(b) !== 0 ? spread([value(o) / value(b)]) : undefined,
    });
  }
  return { scenario, rows, roundTrips: rt };
}

export function tableRows(summary: ScenarioSummary): string[][] {
  const rows = [["metric", "ours median [min-max]", "baseline median [min-max]", "ours/baseline [min-max]"]];
  for (const r of summary.rows) {
    rows.push([
      r.metric,
      r.ours ? fmtSpread(r.ours) : "-",
      r.baseline ? fmtSpread(r.baseline) : "-",
      r.ratio ? fmtSpread(r.ratio) : "-",
    ]);
  }
  return rows;
}

export function patternLine(sample: RoundTripSample): string {
  const parts = Object.entries(sample.pattern)
    .sort((a, b) => b[1] - a[1])
    .map(([batch, perReq]) => `${batch} x${fmt(perReq)}`);
  return `${sample.target}: ${parts.join(", ") || "no Redis command"}`;
}

export function sustainedLines(phases: Phase[]): string[] {
  const lines: string[] = [];
  for (const p of phases.filter((x) => x.scenario === "sustained")) {
    const samples = p.rssSamples ?? [];
    const at10 = samples.find((s) => s.atS >= 10) ?? samples[0];
    const last = samples[samples.length - 1];
    const growth = at10 && last ? (last.rssMiB / at10.rssMiB - 1) * 100 : Number.NaN;
    lines.push(
      `${p.target}: ${fmt(p.load.rps)} req/s, p99 ${fmt(p.load.p99Ms)} ms, RSS ${samples
        .map((s) => `${Math.round(s.atS)}s:${fmt(s.rssMiB)}`)
        .join(
          " ",
        )} MiB; after ${fmt(last?.atS ?? 0)} s vs after 10 s: ${growth >= 0 ? "+" : ""}${fmt(growth)}%`,
    );
  }
  return lines;
}
