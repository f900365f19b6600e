import request from "supertest";
import { describe, expect, it } from "vitest";
import type { MailJob } from "../../../server/infra/mail/types.js";
import { privateRedisServer, sharedRedis, testHealthApp, waitUntil } from "../../helpers/fixtures.js";

const ADMIN_KEY = "admin-key-for-queue-tests-0123456";
const bearer = { Authorization: `Bearer ${ADMIN_KEY}` };
const job = (email: string): MailJob => ({ kind: "registration-attempt", email });

function sampleOf(text: string, state: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`queue_jobs{queue="mail",state="${state}"}`));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

describe("job queue depths and health", () => {
  it("reports the mail queue's depths in /metrics and /metrics/redis, and a healthy queue check", async () => {
    const t = await testHealthApp({
      env: { REDIS_URL: (await sharedRedis()).url, ADMIN_API_KEY: ADMIN_KEY },
    });
    await t.services.mailQueue.add(job("a@example.com"));
    await t.services.mailQueue.add(job("b@example.com"));
    await t.services.mailQueue.add(job("c@example.com"), { delayMs: 60_000 });

    const metrics = await request(t.app).get("/metrics").set(bearer);
    expect(metrics.status).toBe(200);
    expect(sampleOf(metrics.text, "waiting")).toBe(2);
    expect(sampleOf(metrics.text, "delayed")).toBe(1);
    expect(sampleOf(metrics.text, "active")).toBe(0);
    expect(sampleOf(metrics.text, "failed")).toBe(0);
    expect(sampleOf(metrics.text, "completed")).toBe(0);

    const redis = await request(t.app).get("/metrics/redis").set(bearer);
    expect(redis.status).toBe(200);
    expect(redis.body.queues).toEqual({
      mail: { status: "healthy", waiting: 2, active: 0, delayed: 1, failed: 0, completed: 0 },
    });

    const complete = await request(t.app).get("/health/complete");
    expect(complete.status).toBe(200);
    expect(complete.body.status).toBe("healthy");
    expect(complete.body.checks.queue_mail).toEqual({ status: "healthy", latency_ms: expect.any(Number) });
    const json = await request(t.app).get("/health/complete").set("Accept", "application/health+json");
    expect(JSON.parse(json.text).checks["queue_mail:responseTime"][0]).toMatchObject({
      componentType: "component",
      status: "pass",
    });
  });

  it("a queue Redis (QUEUE_REDIS_URL) that stops answering: degraded, not down, within the bound", async () => {
    const queueRedis = await privateRedisServer();
    const t = await testHealthApp({
      env: {
        REDIS_URL: (await sharedRedis()).url,
        QUEUE_REDIS_URL: queueRedis.url,
        ADMIN_API_KEY: ADMIN_KEY,
        REDIS_COMMAND_TIMEOUT_MS: "300",
        HEALTH_CHECK_TIMEOUT_MS: "1000",
      },
    });
    await t.services.mailQueue.add(job("a@example.com"));
    queueRedis.freeze();
    try {
      const startedAt = Date.now();
      const complete = await request(t.app).get("/health/complete");
      expect(Date.now() - startedAt).toBeLessThan(1000 + 1500);
      expect(complete.status).toBe(200);
      expect(complete.body.status).toBe("degraded");
      expect(complete.body.checks.redis.status).toBe("healthy");
      expect(complete.body.checks.queue_mail).toMatchObject({
        status: "unhealthy",
        error: expect.any(String),
      });
      // Readiness does not depend on the queue: requests that need no mail keep being served.
      expect((await request(t.app).get("/health/ready")).status).toBe(200);

      const redis = await request(t.app).get("/metrics/redis").set(bearer);
      expect(redis.status).toBe(200);
      expect(redis.body.status).toBe("healthy");
      expect(redis.body.queues.mail).toMatchObject({ status: "unhealthy" });
      const metrics = await request(t.app).get("/metrics").set(bearer);
      expect(sampleOf(metrics.text, "waiting")).toBeUndefined();
    } finally {
      queueRedis.thaw();
    }
    await waitUntil(
      async () => (await request(t.app).get("/health/complete")).body.status === "healthy",
      10_000,
    );
  });

  it("without Redis the in-process queue is reported the same way", async () => {
    const t = await testHealthApp({ redis: false, env: { ADMIN_API_KEY: ADMIN_KEY } });
    await t.services.mailQueue.add(job("a@example.com"));
    const metrics = await request(t.app).get("/metrics").set(bearer);
    expect(sampleOf(metrics.text, "waiting")).toBe(1);
    const complete = await request(t.app).get("/health/complete");
    expect(complete.body.checks.queue_mail).toEqual({ status: "healthy", latency_ms: expect.any(Number) });
  });
});
