import { afterEach, describe, expect, it } from "vitest";
import { type JobContext, type JobQueue, RetryLaterError } from "../../server/infra/jobs/queue.js";
import { waitUntil } from "./fixtures.js";
import { sleep } from "./sleep.js";

export const CONTRACT_BACKOFF_MS = 200; // first retry delay; the second is twice that

export interface Item {
  n: number;
}

/**
 * The promises every job queue keeps, run against BullMQ on Redis and the in-process queue. `make`
 * builds a fresh, empty queue whose first retry waits CONTRACT_BACKOFF_MS.
 */
export function jobQueueContractSuite(name: string, make: () => Promise<JobQueue<Item>>) {
  describe(`job queue contract: ${name}`, () => {
    const open: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const close of open.splice(0).reverse()) await close();
    });
    const fresh = async () => {
      const queue = await make();
      open.push(() => queue.close());
      return queue;
    };
    const run = (queue: JobQueue<Item>, handler: (item: Item, job: JobContext) => Promise<void>) => {
      const worker = queue.process(handler);
      open.push(() => worker.close(2000));
      return worker;
    };

    it("runs an added job once, with its data, attempt 1 and when it was added", async () => {
      const queue = await fresh();
      const before = Date.now();
      await queue.add({ n: 7 });
      const seen: Array<[Item, JobContext]> = [];
      run(queue, async (item, job) => {
        seen.push([item, job]);
      });
      await waitUntil(async () => (await queue.depths()).completed === 1);
      expect(seen).toHaveLength(1);
      const [item, job] = seen[0]!;
      expect(item).toEqual({ n: 7 });
      expect(job.attempt).toBe(1);
      expect(job.id).not.toBe("");
      expect(job.createdAt).toBeGreaterThanOrEqual(before - 5);
      expect(job.createdAt).toBeLessThanOrEqual(Date.now());
      expect(await queue.depths()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0, completed: 1 });
    });

    it("keeps one job per jobId while the first is still waiting", async () => {
      const queue = await fresh();
      await queue.add({ n: 1 }, { jobId: "reset:a@example.com" });
      await queue.add({ n: 2 }, { jobId: "reset:a@example.com" });
      await queue.add({ n: 3 }, { jobId: "reset:b@example.com" });
      expect((await queue.depths()).waiting).toBe(2);
      const seen: number[] = [];
      run(queue, async (item) => {
        seen.push(item.n);
      });
      await waitUntil(async () => (await queue.depths()).completed === 2);
      expect(seen.sort()).toEqual([1, 3]);
    });

    it("retries a failing job with growing delays, then fails it after 3 attempts", async () => {
      const queue = await fresh();
      const runs: Array<{ attempt: number; at: number }> = [];
      run(queue, async (_item, job) => {
        runs.push({ attempt: job.attempt, at: Date.now() });
        throw new Error("template missing");
      });
      await queue.add({ n: 1 });
      await waitUntil(async () => (await queue.depths()).failed === 1, 15_000);
      expect(runs.map((r) => r.attempt)).toEqual([1, 2, 3]);
      // Exponential backoff: at least the first delay, then at least twice it.
      expect(runs[1]!.at - runs[0]!.at).toBeGreaterThanOrEqual(CONTRACT_BACKOFF_MS - 5);
      expect(runs[2]!.at - runs[1]!.at).toBeGreaterThanOrEqual(2 * CONTRACT_BACKOFF_MS - 5);
      expect(await queue.depths()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 1, completed: 0 });
      const seen = await queue.inspect();
      expect(seen.lastFailedAt).toBeGreaterThan(Date.now() - 10_000);
    });

    it("runs a job again after a RetryLaterError without using one of its attempts", async () => {
      const queue = await fresh();
      const attempts: number[] = [];
      run(queue, async (_item, job) => {
        attempts.push(job.attempt);
        if (attempts.length <= 3) throw new RetryLaterError("smtp down", 50);
        if (attempts.length === 4) throw new Error("refused");
      });
      await queue.add({ n: 1 });
      await waitUntil(async () => (await queue.depths()).completed === 1, 15_000);
      // Three retries later, then one real failure: the job succeeded on its second attempt.
      expect(attempts).toEqual([1, 1, 1, 1, 2]);
      expect((await queue.depths()).failed).toBe(0);
    });

    it("counts a job retrying later as delayed and says so", async () => {
      const queue = await fresh();
      let calls = 0;
      run(queue, async () => {
        calls++;
        throw new RetryLaterError("smtp down", 60_000);
      });
      await queue.add({ n: 1 });
      await waitUntil(async () => (await queue.depths()).delayed === 1);
      expect(calls).toBe(1);
      const seen = await queue.inspect();
      expect(seen.retryingLater).toBe(1);
      expect(seen.depths).toEqual({ waiting: 0, active: 0, delayed: 1, failed: 0, completed: 0 });
    });

    it("reports waiting, delayed and active jobs, and how long the oldest has waited", async () => {
      const queue = await fresh();
      await queue.add({ n: 1 });
      await queue.add({ n: 2 });
      await queue.add({ n: 3 }, { delayMs: 60_000 });
      await sleep(50);
      const before = await queue.inspect();
      expect(before.depths).toEqual({ waiting: 2, active: 0, delayed: 1, failed: 0, completed: 0 });
      expect(before.oldestWaitingMs).toBeGreaterThanOrEqual(40);
      expect(before.retryingLater).toBe(0);
      let release = () => {};
      const held = new Promise<void>((r) => {
        release = r;
      });
      run(queue, () => held);
      await waitUntil(async () => (await queue.depths()).active === 1);
      expect(await queue.depths()).toEqual({ waiting: 1, active: 1, delayed: 1, failed: 0, completed: 0 });
      release();
      await waitUntil(async () => (await queue.depths()).completed === 2);
      expect((await queue.inspect()).oldestWaitingMs).toBeUndefined();
    });

    it("lets the running job finish when its worker closes, and takes no new one", async () => {
      const queue = await fresh();
      let finished = false;
      const started: number[] = [];
      const worker = queue.process(async (item) => {
        started.push(item.n);
        await sleep(300);
        finished = true;
      });
      await queue.add({ n: 1 });
      await waitUntil(() => started.length === 1);
      await worker.close(5000);
      expect(finished).toBe(true);
      await queue.add({ n: 2 });
      await sleep(300);
      expect(started).toEqual([1]);
      expect(await queue.depths()).toMatchObject({ waiting: 1, completed: 1 });
    });

    it("stops waiting for a running job once the close's bound has passed", async () => {
      const queue = await fresh();
      let finished = false;
      let started = false;
      const worker = queue.process(async () => {
        started = true;
        await sleep(3000);
        finished = true;
      });
      await queue.add({ n: 1 });
      await waitUntil(() => started);
      await worker.close(300);
      expect(finished).toBe(false);
    });
  });
}
