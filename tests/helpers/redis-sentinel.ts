import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort, waitForPort } from "./ports.js";
import { type RedisServer, startRedisServer } from "./redis-server.js";
import { sleep } from "./sleep.js";

export const SENTINEL_MASTER_NAME = "mymaster";

export interface RedisSentinelSetup {
  primary: RedisServer;
  replica: RedisServer;
  /** The sentinels' ports. */
  sentinels: number[];
  /** `127.0.0.1:p1,127.0.0.1:p2,...` for REDIS_SENTINELS. */
  sentinelList: string;
  /** What the sentinels name as the primary now (`host:port`), asked of the first one that answers. */
  currentPrimary(): Promise<string | undefined>;
  stop(): Promise<void>;
}

async function ask<T>(port: number, run: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(port, "127.0.0.1", {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    commandTimeout: 1000,
  });
  r.on("error", () => undefined);
  try {
    await r.connect();
    return await run(r);
  } finally {
    r.disconnect();
  }
}

/**
 * A primary, one replica (`--replicaof`) and three sentinels (quorum 2, down after 1 s) on free loopback
 * ports, each conf file in a temporary directory; resolves once the replica is in sync and every sentinel
 * knows the replica and the other sentinels, so a failover can be elected.
 */
export async function startRedisSentinel(): Promise<RedisSentinelSetup> {
  const dir = mkdtempSync(join(tmpdir(), "sentinel-"));
  const children: ChildProcess[] = [];
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGKILL");
          }),
      ),
    );
    for (const s of servers) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Their own directory: a replica writes the RDB its primary sends it to disk.
    const primary = await startRedisServer({ extraArgs: ["--dir", dir] });
    servers.push(primary);
    const replica = await startRedisServer({
      extraArgs: ["--dir", dir, "--replicaof", "127.0.0.1", String(primary.port)],
    });
    servers.push(replica);
    await waitFor(
      () => ask(replica.port, async (r) => (await r.info("replication")).includes("master_link_status:up")),
      10_000,
      "replica in sync",
    );

    const sentinels: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          "loglevel warning",
          "",
        ].join("\n"),
      );
      const child = spawn("redis-server", [conf, "--sentinel"], { stdio: ["ignore", "ignore", "inherit"] });
      children.push(child);
      await waitForPort(port);
      sentinels.push(port);
    }
    // Sentinels find the replica through the primary's INFO and each other through its hello channel.
    await waitFor(
      async () => {
        for (const port of sentinels) {
          const ok = await ask(port, async (r) => {
            const others = (await r.call("SENTINEL", "sentinels", SENTINEL_MASTER_NAME)) as unknown[];
            const replicas = (await r.call("SENTINEL", "replicas", SENTINEL_MASTER_NAME)) as unknown[];
            return others.length === 2 && replicas.length === 1;
          });
          if (!ok) return false;
        }
        return true;
      },
      30_000,
      "sentinels know each other and the replica",
    );
    return {
      primary,
      replica,
      sentinels,
      sentinelList: sentinels.map((p) => `127.0.0.1:${p}`).join(","),
      async currentPrimary() {
        for (const port of sentinels) {
          try {
            const addr = (await ask(port, (r) =>
              r.call("SENTINEL", "get-master-addr-by-name", SENTINEL_MASTER_NAME),
            )) as string[] | null;
            if (addr) return `${addr[0]}:${addr[1]}`;
          } catch {
            // the next sentinel
          }
        }
        return undefined;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await condition()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(200);
  }
}
