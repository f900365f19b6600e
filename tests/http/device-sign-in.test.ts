import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/app.js";
import {
  ageAuthentication,
  closeAfterFile,
  registerUser,
  TEST_PASSWORD,
  testApp,
} from "../helpers/fixtures.js";
import { listen } from "../helpers/listen.js";
import { sessionIdOf } from "../helpers/session.js";

let t: TestApp;
let url: string;
beforeAll(async () => {
  t = await testApp({
    env: { DEVICE_POLL_INTERVAL_SECONDS: "1", RATE_LIMIT_LOGIN_LIMIT: "1000", REAUTH_MAX_AGE_SECONDS: "300" },
  });
  const server = await listen(t.app);
  closeAfterFile(() => server.close());
  url = server.url;
});

const start = async () => {
  const res = await request(t.app).post("/auth/device/code").send({ client_name: "deploy tool" });
  expect(res.status).toBe(200);
  return res.body as { device_code: string; user_code: string; verification_uri: string; interval: number };
};
const poll = (deviceCode: string) =>
  request(t.app).post("/auth/device/token").send({ device_code: deviceCode });
const decide = (cookie: string, userCode: string, decision: "approve" | "deny") =>
  request(t.app).post("/device").set("Cookie", cookie).type("form").send({ user_code: userCode, decision });

describe("device sign-in (RFC 8628)", () => {
  it("signs the example CLI in once its owner approves on /device, and it calls /auth/me with the token", async () => {
    const { email, cookie } = await registerUser(t);
    const cli = spawn(process.execPath, ["examples/cli/device-login.mjs", url], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines = createInterface({ input: cli.stdout });
    type Line = { msg: string; user_code: string; verification_uri: string; email?: string };
    const output: Line[] = [];
    const exited = new Promise<number | null>((resolve) => cli.on("exit", resolve));
    const first = await new Promise<Line>((resolve) =>
      lines.once("line", (line) => resolve(JSON.parse(line))),
    );
    lines.on("line", (line) => output.push(JSON.parse(line)));
    expect(first.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(first.verification_uri).toBe(`${new URL(url).origin}/device`);

    const anonymous = await request(t.app).get(`/device?user_code=${first.user_code}`);
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.location).toMatch(/^\/login\?next=%2Fdevice/);
    const page = await request(t.app)
      .get(`/device?user_code=${first.user_code.toLowerCase()}`)
      .set("Cookie", cookie);
    expect(page.status).toBe(200);
    expect(page.text).toContain("example CLI");
    expect(page.text).toContain(first.user_code);
    const approved = await decide(cookie, first.user_code, "approve");
    expect(approved.status).toBe(200);
    expect(approved.text).toContain("Device signed in");

    expect(await exited).toBe(0);
    expect(output.at(-1)).toMatchObject({ msg: "signed in", status: 200, email });
    const sessions = await request(t.app).get("/auth/sessions").set("Cookie", cookie);
    expect(sessions.body.sessions.filter((s: { client: string }) => s.client === "app")).toHaveLength(1);
    // The code worked once.
    expect((await decide(cookie, first.user_code, "approve")).status).toBe(400);
  });

  it("answers a too-fast poller slow_down, a denial access_denied, and an expired code expired_token", async () => {
    const { cookie } = await registerUser(t);
    const fast = await start();
    expect(fast.interval).toBe(1);
    const first = await poll(fast.device_code);
    expect(first.status).toBe(400);
    expect(first.body).toEqual({ error: "authorization_pending", error_description: expect.any(String) });
    expect((await poll(fast.device_code)).body.error).toBe("slow_down");
    expect(first.headers["set-cookie"]).toBeUndefined();

    const denied = await start();
    expect((await decide(cookie, denied.user_code, "deny")).text).toContain("Sign-in denied");
    expect((await poll(denied.device_code)).body.error).toBe("access_denied");
    expect((await poll(denied.device_code)).body.error).toBe("expired_token");

    const expiring = await start();
    const keys = await t.redis!.keys(`${t.config.keyPrefix}:device:*`);
    await Promise.all(keys.map((key) => t.redis!.pexpire(key, 1)));
    await expect.poll(async () => (await poll(expiring.device_code)).body.error).toBe("expired_token");
    const page = await request(t.app).get(`/device?user_code=${expiring.user_code}`).set("Cookie", cookie);
    expect(page.status).toBe(400);
    expect(page.text).toContain("unknown, was already used or has expired");
    expect((await poll("not-a-device-code")).body.error).toBe("expired_token");
  });

  it("asks for a recent authentication before approving", async () => {
    const { cookie } = await registerUser(t);
    await ageAuthentication(t, cookie);
    const grant = await start();
    const asked = await decide(cookie, grant.user_code, "approve");
    expect(asked.status).toBe(303);
    expect(asked.headers.location).toMatch(/^\/account\/confirm\?next=%2Fdevice%3Fuser_code%3D/);
    expect((await poll(grant.device_code)).body.error).toBe("authorization_pending");
    await request(t.app)
      .post("/auth/reauthenticate")
      .set("Cookie", cookie)
      .send({ password: TEST_PASSWORD })
      .expect(204);
    expect((await decide(cookie, grant.user_code, "approve")).status).toBe(200);
    await expect
      .poll(async () => (await poll(grant.device_code)).status, { interval: 1100, timeout: 5000 })
      .toBe(200);
    // Single use: the approved code is no longer one to look up or decide on.
    expect(
      (await request(t.app).get(`/device?user_code=${grant.user_code}`).set("Cookie", cookie)).status,
    ).toBe(400);
    expect((await decide(cookie, grant.user_code, "deny")).status).toBe(400);
  });

  it("limits user-code guesses like logins (RATE_LIMIT_LOGIN_*): past the limit even the right code waits", async () => {
    const strict = await testApp({ env: { RATE_LIMIT_LOGIN_LIMIT: "6", REAUTH_MAX_AGE_SECONDS: "300" } });
    const { cookie } = await registerUser(strict); // 1
    const grant = (await request(strict.app).post("/auth/device/code").send({ client_name: "guesser" })).body; // 2
    const lookup = (code: string) =>
      request(strict.app).get(`/device?user_code=${code}`).set("Cookie", cookie);
    for (const guess of ["BCDF-GHJK", "LMNP-QRST", "VWXZ-BCDF", "GHJK-LMNP"]) {
      expect((await lookup(guess)).status).toBe(400); // 3 to 6
    }
    const limited = await lookup(grant.user_code);
    expect(limited.status).toBe(429);
    expect(limited.headers["retry-after"]).toBeDefined();
    const approve = await request(strict.app)
      .post("/device")
      .set("Cookie", cookie)
      .type("form")
      .send({ user_code: grant.user_code, decision: "approve" });
    expect(approve.status).toBe(429);
    const pending = await request(strict.app)
      .post("/auth/device/token")
      .send({ device_code: grant.device_code });
    expect(pending.body.error).toBe("authorization_pending");
  });
});
