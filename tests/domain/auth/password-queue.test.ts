import { beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../../server/infra/db/database.js";
import { buildTestApp, type TestApp } from "../../helpers/app.js";
import { sharedRedis, testDatabase } from "../../helpers/fixtures.js";
import { listen } from "../../helpers/listen.js";
import { uniqueEmail } from "../../helpers/session.js";

// A flood of password checks is answered quickly (503 busy, 429) instead of queueing up behind one
// another, a real login made during it completes, and refused checks never count toward the lockout.

const PASSWORD = "correct horse";
const LIMIT = 5; // login-account, the product's default
const FLOOD = 60;

let db: Database;
let redisUrl: string;

beforeAll(async () => {
  db = (await testDatabase()).db;
  redisUrl = (await sharedRedis()).url;
});

interface Answer {
  status: number;
  code?: string;
  retryAfter: string | null;
  ms: number;
}

async function withApp(env: Record<string, string>, fn: (t: TestApp, url: string) => Promise<void>) {
  const t = await buildTestApp({
    db,
    env: {
      REDIS_URL: redisUrl,
      RATE_LIMIT_LOGIN_LIMIT: "10000",
      RATE_LIMIT_GLOBAL_LIMIT: "10000",
      PASSWORD_HASH_CONCURRENCY: "1",
      // A few ms per hash here; the production cost makes every number below 100 times larger.
      PASSWORD_SCRYPT_LOG_N: "14",
      // Every request here comes from one address: the per-client cap is tested in lockout.test.ts.
      PASSWORD_HASH_PER_CLIENT_MAX: "10000",
      ...env,
    },
  });
  const server = await listen(t.app);
  try {
    await fn(t, server.url);
  } finally {
    await server.close();
    await t.close();
  }
}

async function post(url: string, path: string, body: object): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
  return {
    status: res.status,
    code: json.error?.code,
    retryAfter: res.headers.get("retry-after"),
    ms: performance.now() - started,
  };
}

const login = (url: string, email: string, password: string) => post(url, "/auth/login", { email, password });

describe("the password-hash queue under a flood", () => {
  it("answers the flood quickly with 503 busy, and a login made during it completes", async () => {
    await withApp({ PASSWORD_HASH_QUEUE_MAX: "4", PASSWORD_HASH_MAX_WAIT_MS: "1000" }, async (_t, url) => {
      const email = uniqueEmail("real");
      expect((await post(url, "/auth/register", { email, password: PASSWORD })).status).toBe(201);

      // Wrong passwords for many accounts nobody has (each costs a full dummy hash).
      let answered = 0;
      const flood = Array.from({ length: FLOOD }, (_, i) =>
        login(url, uniqueEmail(`flood${i}`), "wrong password").finally(() => answered++),
      );
      // Once all but the hashing and queued ones are answered, the whole flood has arrived.
      await expect
        .poll(() => answered, { timeout: 10_000, interval: 5 })
        .toBeGreaterThanOrEqual(FLOOD - 1 - 4);

      const real = await login(url, email, PASSWORD);
      const answers = await Promise.all(flood);

      expect(real.status).toBe(200);
      const busy = answers.filter((a) => a.status === 503);
      expect(answers.every((a) => a.status === 401 || a.status === 503)).toBe(true);
      expect(busy.length).toBeGreaterThan(FLOOD / 2);
      for (const a of busy) {
        expect(a.code).toBe("busy");
        expect(a.retryAfter).toMatch(/^\d+$/);
        // Refused after at most the wait limit, never after the whole flood's hashes.
        expect(a.ms).toBeLessThan(5000);
      }
      console.info(
        `hash flood: real login ${real.ms.toFixed(0)} ms; ${busy.length}/${FLOOD} busy, slowest busy ${Math.max(...busy.map((a) => a.ms)).toFixed(0)} ms`,
      );
    });
  });

  it("checks refused as busy never count toward the account lockout", async () => {
    // No waiting at all: while the one slot is taken every other check is refused at once.
    await withApp({ PASSWORD_HASH_QUEUE_MAX: "0", PASSWORD_SCRYPT_LOG_N: "15" }, async (_t, url) => {
      const email = uniqueEmail("victim");
      expect((await post(url, "/auth/register", { email, password: PASSWORD })).status).toBe(201);

      // Keep the slot busy with other accounts while wrong guesses for the victim arrive one by one.
      const others = Array.from({ length: 40 }, (_, i) =>
        login(url, uniqueEmail(`other${i}`), "wrong password"),
      );
      const guesses: Answer[] = [];
      for (let i = 0; i < 20; i++) guesses.push(await login(url, email, `wrong-${i}`));
      await Promise.all(others);

      const counted = guesses.filter((g) => g.status === 401).length;
      const refused = guesses.filter((g) => g.status === 503 && g.code === "busy").length;
      expect(counted + refused + guesses.filter((g) => g.status === 429).length).toBe(guesses.length);
      expect(refused).toBeGreaterThan(0);
      // Exactly the guesses that were checked count: the rest of the budget is still there.
      const left = Math.max(0, LIMIT - counted);
      for (let i = 0; i < left; i++) expect((await login(url, email, `again-${i}`)).status).toBe(401);
      expect((await login(url, email, "once-more")).status).toBe(429);
    });
  });
});
