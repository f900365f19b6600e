/** Calls per command in the text of `INFO commandstats` (names lower-case, e.g. `evalsha`). */
export function parseCommandStats(info: string): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls[match[1] as string] = Number(match[2]);
  }
  return calls;
}

/** Calls per command since the server started, from `INFO commandstats`. */
export async function commandCalls(redis: {
  info(section: string): Promise<string>;
}): Promise<Record<string, number>> {
  return parseCommandStats(await redis.info("commandstats"));
}

/** Commands run between two snapshots, e.g. `{ get: 1 }`, leaving out the INFO calls that took them; `total` sums them. */
export function commandDiff(before: Record<string, number>, after: Record<string, number>) {
  const commands: Record<string, number> = {};
  let total = 0;
  for (const [name, n] of Object.entries(after)) {
    const d = n - (before[name] ?? 0);
    if (d > 0 && name !== "info") {
      commands[name] = d;
      total += d;
    }
  }
  return { commands, total };
}
