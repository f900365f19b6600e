/**
 * Where the time goes in a `node --cpu-prof` profile: self time grouped by package (or by our own
 * folder), then the hottest functions.
 * Usage: `npx tsx bench/profile-summary.ts <file.cpuprofile> [top] [skip first S seconds]`.
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** node_modules/<pkg> (scoped too), our folders, node internals, or the V8 pseudo-frames. */
export function groupOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === "(garbage collector)") return "GC";
    if (functionName === "(idle)") return "(idle)";
    if (functionName === "(program)") return "(program: native, not attributed)";
    return functionName || "(native)";
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[1] ?? url.slice(5)}`;
  const own = /\/(server|bench|shared)\/(.+?)\/?[^/]*$/.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  return url;
}

/** `fromS`: leave out the first seconds (start-up: module loading, migrations, the bench's log-in). */
export function summarize(profile: Profile, top = 25, fromS = 0) {
  const selfUs = new Map<number, number>();
  let at = 0; // us since the profile started
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (at < fromS * 1e6) continue;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  // Inclusive time: a sample counts once for every package on its stack (so express-session includes the
  // crypto it calls; a package that calls another shows both).
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const stackGroups = new Map<number, Set<string>>();
  const groupsOnStack = (id: number): Set<string> => {
    const known = stackGroups.get(id);
    if (known) return known;
    const node = byId.get(id) as ProfileNode;
    const up = parent.get(id);
    const set = new Set(up === undefined ? [] : groupsOnStack(up));
    set.add(groupOf(node.callFrame.url, node.callFrame.functionName));
    stackGroups.set(id, set);
    return set;
  };
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    for (const g of groupsOnStack(id)) inclusive.set(g, (inclusive.get(g) ?? 0) + us);
  }
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const group = groupOf(url, functionName);
    if (group === "(idle)") {
      idle += us;
      continue;
    }
    total += us;
    groups.set(group, (groups.get(group) ?? 0) + us);
    const fn = `${functionName || "(anonymous)"} ${url ? `${url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(server|bench|shared)\//, "$1/")}:${lineNumber + 1}` : ""}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `busy ${(total / 1e6).toFixed(1)} s, idle ${(idle / 1e6).toFixed(1)} s`,
    "",
    "self time by package:",
  ];
  for (const [g, us] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`  ${pct(us)}  ${g}`);
  lines.push("", "inclusive time by package (callees included):");
  for (const [g, us] of [...inclusive]
    .filter(([g]) => g !== "(idle)" && g !== "(root)")
    .sort((a, b) => b[1] - a[1])
    .slice(0, top))
    lines.push(`  ${pct(us)}  ${g}`);
  lines.push("", "hottest functions (self time):");
  for (const [f, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`  ${pct(us)}  ${f}`);
  return lines.join("\n");
}

if (import.meta.filename === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top] [skip-seconds]\n");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  process.stdout.write(
    `${summarize(profile, Number(process.argv[3] ?? 25), Number(process.argv[4] ?? 0))}\n`,
  );
}
