import request from "supertest";
import { describe, it } from "vitest";
import type { Env } from "../../server/config/config.js";
import { TEST_SECRET } from "../helpers/app.js";
import { testApp } from "../helpers/fixtures.js";

/**
 * Which address a request is rate-limited by, under each TRUST_PROXY setting, when clients write their
 * own X-Forwarded-For. The global limit is 2 per address: the third request from one client is a 429.
 * supertest connects from 127.0.0.1, so "the peer" below is loopback.
 */
function app(env: Env) {
  return testApp({ env: { RATE_LIMIT_GLOBAL_LIMIT: "2", ...env } });
}

const get = (t: Awaited<ReturnType<typeof app>>, xff?: string) => {
  const req = request(t.app).get("/auth/me");
  return xff === undefined ? req : req.set("X-Forwarded-For", xff);
};

describe("a client cannot choose the address it is limited by", () => {
  it.each(["false", "0"])(
    "TRUST_PROXY=%s (clients connect directly): every spoofed X-Forwarded-For is the peer's one budget",
    async (value) => {
      const t = await app({ TRUST_PROXY: value });
      await get(t, "203.0.113.1").expect(401);
      await get(t, "203.0.113.2").expect(401);
      await get(t, "203.0.113.3").expect(429);
      await get(t).expect(429);
    },
  );

  it("TRUST_PROXY=1 behind one proxy: the address the proxy appended counts, the client's own entries do not", async () => {
    const t = await app({ TRUST_PROXY: "1" });
    // The proxy appends the address it saw (198.51.100.7) to whatever the client sent.
    await get(t, "203.0.113.1, 198.51.100.7").expect(401);
    await get(t, "203.0.113.2, 198.51.100.7").expect(401);
    await get(t, "203.0.113.3, 10.0.0.1, 198.51.100.7").expect(429);
    await get(t, "198.51.100.8").expect(401); // another client behind the proxy has its own budget
  });

  it("TRUST_PROXY=<the proxy's address>: only a request from that address may name the client", async () => {
    const behind = await app({ TRUST_PROXY: "127.0.0.1" });
    await get(behind, "203.0.113.1, 198.51.100.7").expect(401);
    await get(behind, "203.0.113.2, 198.51.100.7").expect(401);
    await get(behind, "203.0.113.3, 198.51.100.7").expect(429);

    // A peer that is not the named proxy (here: loopback is not 10.0.0.2) is the client itself.
    const direct = await app({ TRUST_PROXY: "10.0.0.2" });
    await get(direct, "203.0.113.1").expect(401);
    await get(direct, "203.0.113.2").expect(401);
    await get(direct, "10.0.0.2, 203.0.113.3").expect(429);
  });

  it("production on Railway without TRUST_PROXY trusts its edge's one hop", async () => {
    const t = await app({
      NODE_ENV: "production",
      SESSION_SECRET: TEST_SECRET,
      COOKIE_SECURE: "false",
      RAILWAY_ENVIRONMENT: "production",
      PUBLIC_URL: "https://auth.example.com",
    });
    await get(t, "203.0.113.1, 198.51.100.7").expect(401);
    await get(t, "203.0.113.2, 198.51.100.7").expect(401);
    await get(t, "203.0.113.3, 198.51.100.7").expect(429);
  });
});
