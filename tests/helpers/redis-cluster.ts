import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type RedisServer, startRedisServer } from "./redis-server.js";
import { sleep } from "./sleep.js";

const run = promisify(execFile);

export interface RedisCluster {
  nodes: RedisServer[];
  /** A seed URL for REDIS_URL (with REDIS_CLUSTER=true). */
  url: string;
  stop(): Promise<void>;
}

/**
 * Three masters on free loopback ports, slots assigned by `redis-cli --cluster create`; with
 * `replicas: 1`, one replica each (six nodes), promoted when its master has been unreachable for
 * `nodeTimeoutMs` (Redis' `cluster-node-timeout`).
 */
export async function startRedisCluster(
  options: { replicas?: number; nodeTimeoutMs?: number } = {},
): Promise<RedisCluster> {
  const replicas = options.replicas ?? 0;
  const dir = mkdtempSync(join(tmpdir(), "redis-cluster-"));
  const nodes: RedisServer[] = [];
  for (let i = 0; i < 3 * (1 + replicas); i++) {
    nodes.push(
      await startRedisServer({
        extraArgs: [
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          join(dir, `nodes-${i}.conf`),
          "--dir",
          dir,
          ...(options.nodeTimeoutMs ? ["--cluster-node-timeout", String(options.nodeTimeoutMs)] : []),
        ],
      }),
    );
  }
  const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
  await run("redis-cli", [
    "--cluster",
    "create",
    ...addresses,
    "--cluster-replicas",
    String(replicas),
    "--cluster-yes",
  ]);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const states = await Promise.all(
      nodes.map(async (n) => (await run("redis-cli", ["-p", String(n.port), "cluster", "info"])).stdout),
    );
    if (states.every((s) => s.includes("cluster_state:ok"))) break;
    if (Date.now() > deadline) throw new Error("Redis Cluster did not become ready");
    await sleep(200);
  }
  return {
    nodes,
    url: `redis://127.0.0.1:${nodes[0]!.port}`,
    async stop() {
      for (const n of nodes) await n.stop();
    },
  };
}
