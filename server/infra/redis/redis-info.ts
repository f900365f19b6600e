import { Cluster, type Redis as RedisNode } from "ioredis";
import type { Redis } from "./redis-client.js";

/** The servers holding data: every master of a cluster, or the one server. */
export function dataNodes(redis: Redis): RedisNode[] {
  return redis instanceof Cluster ? redis.nodes("master") : [redis];
}

/** `INFO` text (`key:value` lines under `# Section` headers) as a flat map. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** INFO of every data node, numeric fields summed (a cluster's memory is the sum of its masters'). */
export async function summedInfo(redis: Redis, section?: string): Promise<Record<string, number>> {
  const texts = await Promise.all(
    dataNodes(redis).map((node) => (section ? node.info(section) : node.info())),
  );
  const sum: Record<string, number> = {};
  for (const text of texts) {
    for (const [key, value] of Object.entries(parseInfo(text))) {
      const n = Number(value);
      if (Number.isFinite(n)) sum[key] = (sum[key] ?? 0) + n;
    }
  }
  return sum;
}
