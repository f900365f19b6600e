import { describe, expect, it } from "vitest";
import { DependencyUnavailableError } from "../../../server/lib/errors.js";
import {
  closeAfterFile,
  privateRedisServer,
  sharedRedis,
  sharedRedisCluster,
  waitUntil,
} from "../../helpers/fixtures.js";
import {
  CONTRACT_BACKOFF_MS,
  type Item,
  jobQueueContractSuite,
} from "../../helpers/job-queue-contract-suite.js";
import { bullQueue, loopbackRedis } from "../../helpers/queues.js";
import { sleep } from "../../helpers/sleep.js";

jobQueueContractSuite("BullMQ on Redis", async () => {
  const { port, db } = await sharedRedis();
  return bullQueue<Item>(loopbackRedis(port, { db }), { backoffMs: CONTRACT_BACKOFF_MS });
});

describe("BullMQ queue", () => {
  it("keeps every key of the queue under the hash-tagged {KEY_PREFIX:jobs} prefix", async () => {
    const server = await privateRedisServer();
    const queue = await bullQueue<Item>(loopbackRedis(server.port), { keyPrefix: "shop" });
    closeAfterFile(() => queue.close());
    await queue.add({ n: 1 }, { jobId: "one" });
    await queue.add({ n: 2 }, { delayMs: 60_000 });
    const { Redis } = await import("ioredis");
    const client = new Redis({ port: server.port, lazyConnect: true });
    await client.connect();
    const keys = await client.keys("*");
    client.disconnect();
    expect(keys.length).toBeGreaterThan(2);
    expect(keys.filter((k) => !k.startsWith("{shop:jobs}:mail:"))).toEqual([]);
  });

  it("add() on a frozen Redis rejects within about the command timeout (a 503), never hangs", async () => {
    const server = await privateRedisServer();
    const queue = await bullQueue<Item>(loopbackRedis(server.port, { commandTimeoutMs: 300 }));
    closeAfterFile(() => queue.close());
    await queue.add({ n: 1 });
    server.freeze();
    try {
      const startedAt = Date.now();
      const error = await queue.add({ n: 2 }).catch((err: unknown) => err);
      const tookMs = Date.now() - startedAt;
      expect(error).toBeInstanceOf(DependencyUnavailableError);
      expect((error as DependencyUnavailableError).status).toBe(503);
      expect(tookMs).toBeLessThan(1500);
      const depths = await queue.depths().catch((err: unknown) => err);
      expect(depths).toBeInstanceOf(DependencyUnavailableError);
    } finally {
      server.thaw();
    }
    // Once Redis answers again, so does the queue.
    await waitUntil(async () => (await queue.depths().catch(() => undefined)) !== undefined, 10_000);
    await queue.add({ n: 3 });
    expect((await queue.depths()).waiting).toBeGreaterThanOrEqual(2);
  });

  it("add() with Redis down rejects at once, and works when Redis is back", async () => {
    const server = await privateRedisServer();
    const queue = await bullQueue<Item>(loopbackRedis(server.port, { commandTimeoutMs: 300 }));
    closeAfterFile(() => queue.close());
    await server.kill();
    const startedAt = Date.now();
    await expect(queue.add({ n: 1 })).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(Date.now() - startedAt).toBeLessThan(1000);
    await server.start();
    await waitUntil(
      async () =>
        await queue.add({ n: 2 }).then(
          () => true,
          () => false,
        ),
      15_000,
    );
    expect((await queue.depths()).waiting).toBe(1);
  });
});

describe("BullMQ worker across a Redis restart", () => {
  it("keeps waiting through the outage and runs the jobs added once Redis is back", async () => {
    const server = await privateRedisServer();
    const queue = await bullQueue<Item>(loopbackRedis(server.port, { commandTimeoutMs: 500 }));
    closeAfterFile(() => queue.close());
    const seen: number[] = [];
    const worker = queue.process(async (item) => {
      seen.push(item.n);
    });
    closeAfterFile(() => worker.close(2000));
    await queue.add({ n: 1 });
    await waitUntil(() => seen.length === 1);
    await server.kill();
    await sleep(1000);
    await server.start();
    await waitUntil(
      async () =>
        queue.add({ n: 2 }).then(
          () => true,
          () => false,
        ),
      15_000,
    );
    await waitUntil(() => seen.length === 2, 15_000);
    expect(seen).toEqual([1, 2]);
  });
});

describe.skipIf(process.env.SKIP_SLOW === "1")("BullMQ queue on Redis Cluster", () => {
  it("adds, runs and counts jobs on a 3-master cluster (one slot for the queue's keys)", async () => {
    const queue = await bullQueue<Item>(loopbackRedis(sharedRedisCluster().ports[0]!, { cluster: true }), {
      backoffMs: CONTRACT_BACKOFF_MS,
    });
    closeAfterFile(() => queue.close());
    const seen: Array<[number, number]> = [];
    const worker = queue.process(async (item, job) => {
      seen.push([item.n, job.attempt]);
      if (item.n === 2 && job.attempt === 1) throw new Error("first try fails");
    });
    closeAfterFile(() => worker.close(2000));
    await queue.add({ n: 1 }, { jobId: "a" });
    await queue.add({ n: 2 });
    await waitUntil(async () => (await queue.depths()).completed === 2, 15_000);
    expect(seen.sort()).toEqual([
      [1, 1],
      [2, 1],
      [2, 2],
    ]);
  });
});
