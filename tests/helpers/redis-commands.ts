/** Calls per command from `INFO commandstats` (the INFO calls themselves left out). */
export async function commandCalls(admin: {
  info(section: string): Promise<string>;
}): Promise<Map<string, number>> {
  const text = await admin.info("commandstats");
  const calls = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m?.[1] && m[1] !== "info") calls.set(m[1], Number(m[2]));
  }
  return calls;
}

/** Commands run between two `commandCalls` snapshots, e.g. `{ get: 1 }`; `total` sums them. */
export function commandDiff(before: Map<string, number>, after: Map<string, number>) {
  const diff: Record<string, number> = {};
  let total = 0;
  for (const [cmd, n] of after) {
    const d = n - (before.get(cmd) ?? 0);
    if (d > 0) {
      diff[cmd] = d;
      total += d;
    }
  }
  return { commands: diff, total };
}
