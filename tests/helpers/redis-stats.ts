import type { Redis } from "../../server/redis/redis-client.js";

/** Calls per command since the server started, from `INFO commandstats` (names lower-case, e.g. `evalsha`). */
export async function commandCalls(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info("commandstats");
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls[match[1] as string] = Number(match[2]);
  }
  return calls;
}

/** What ran between two snapshots, leaving out the INFO calls that took them. */
export function callsBetween(before: Record<string, number>, after: Record<string, number>) {
  const delta: Record<string, number> = {};
  for (const [name, n] of Object.entries(after)) {
    const d = n - (before[name] ?? 0);
    if (d > 0 && name !== "info") delta[name] = d;
  }
  return delta;
}
