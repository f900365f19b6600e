import type { Redis as RedisNode } from "ioredis";
import { keyNamespaces } from "../../infra/redis/keys.js";
import type { Redis } from "../../infra/redis/redis-client.js";
import { dataNodes, summedInfo } from "../../infra/redis/redis-info.js";

const BYTES_PER_MB = 1024 * 1024;
const SCAN_BATCH = 250; // keys asked per SCAN call
export const KEY_SAMPLE_MAX = 1000; // keys looked at per estimate

export interface KeyEstimate {
  counts: Record<string, number>;
  /** Keys in this Redis database (DBSIZE). */
  total: number;
  /** Keys looked at. */
  sampled: number;
  /** False only when the sample covered the whole keyspace (then the counts are exact at that moment). */
  estimated: boolean;
}

/**
 * Counts keys by prefix without KEYS: on each server, a bounded SCAN sample scaled to its DBSIZE. SCAN
 * walks the hash table, whose order is unrelated to key names, so the sample is close to random. Never
 * for decisions: keys come and go while it runs.
 */
export async function estimateKeyCounts(
  redis: Redis,
  prefixes: Record<string, string>,
  sampleMax = KEY_SAMPLE_MAX,
): Promise<KeyEstimate> {
  const nodes = dataNodes(redis);
  const perNode = await Promise.all(
    nodes.map((node) => sampleNode(node, prefixes, Math.ceil(sampleMax / nodes.length))),
  );
  const counts = Object.fromEntries(Object.keys(prefixes).map((n) => [n, 0]));
  for (const one of perNode)
    for (const n of Object.keys(counts)) counts[n] = (counts[n] ?? 0) + (one.counts[n] ?? 0);
  return {
    counts,
    total: perNode.reduce((sum, one) => sum + one.total, 0),
    sampled: perNode.reduce((sum, one) => sum + one.sampled, 0),
    estimated: perNode.some((one) => one.estimated),
  };
}

async function sampleNode(
  node: RedisNode,
  prefixes: Record<string, string>,
  sampleMax: number,
): Promise<KeyEstimate> {
  const names = Object.keys(prefixes);
  const counts = Object.fromEntries(names.map((n) => [n, 0]));
  const total = await node.dbsize();
  let cursor = "0";
  let sampled = 0;
  let complete = false;
  do {
    const [next, keys] = await node.scan(cursor, "COUNT", SCAN_BATCH);
    cursor = next;
    for (const key of keys) {
      sampled++;
      const name = names.find((n) => key.startsWith(prefixes[n] as string));
      if (name) counts[name] = (counts[name] ?? 0) + 1;
    }
    complete = cursor === "0";
  } while (!complete && sampled < sampleMax);

  if (complete || sampled === 0) return { counts, total, sampled, estimated: false };
  const scale = total / sampled;
  for (const n of names) counts[n] = Math.round((counts[n] ?? 0) * scale);
  return { counts, total, sampled, estimated: true };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export interface RedisMetricsBody {
  status: "healthy";
  metrics: {
    memory: { used_mb: number; peak_mb: number };
    connections: { connected_clients: number; blocked_clients: number };
    performance: { ops_per_sec: number; cache_hit_ratio: number | null };
    keys: {
      sessions: number;
      /** The per-user session indexes (two keys per user with sessions). */
      session_index: number;
      cache: number;
      rate_limit: number;
      /** The job queues' keys (BullMQ: a few per queue plus one hash per job kept). */
      jobs: number;
      total: number;
      sampled: number;
      estimated: boolean;
    };
  };
}

/** INFO plus a key sample, in the shape `/metrics/redis` documents (a cluster's masters summed). */
export async function readRedisMetrics(redis: Redis, keyPrefix: string): Promise<RedisMetricsBody> {
  const [info, keys] = await Promise.all([
    summedInfo(redis),
    estimateKeyCounts(redis, keyNamespaces(keyPrefix)),
  ]);
  const num = (name: string) => info[name] ?? 0;
  const hits = num("keyspace_hits");
  const misses = num("keyspace_misses");
  return {
    status: "healthy",
    metrics: {
      memory: {
        used_mb: round2(num("used_memory") / BYTES_PER_MB),
        peak_mb: round2(num("used_memory_peak") / BYTES_PER_MB),
      },
      connections: { connected_clients: num("connected_clients"), blocked_clients: num("blocked_clients") },
      performance: {
        ops_per_sec: num("instantaneous_ops_per_sec"),
        // Redis's own keyspace lookups since it started, not the app cache's hit rate (see cache_hits_total).
        cache_hit_ratio: hits + misses > 0 ? Math.round((hits / (hits + misses)) * 10_000) / 10_000 : null,
      },
      keys: {
        sessions: keys.counts.sessions ?? 0,
        session_index: keys.counts.session_index ?? 0,
        cache: keys.counts.cache ?? 0,
        rate_limit: keys.counts.rate_limit ?? 0,
        jobs: keys.counts.jobs ?? 0,
        total: keys.total,
        sampled: keys.sampled,
        estimated: keys.estimated,
      },
    },
  };
}
