import { generate } from "otplib";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { ConfigError, type Env, loadConfig } from "../../../server/config/config.js";
import { testEnv } from "../../helpers/app.js";
import { login, registerUser, testApp } from "../../helpers/fixtures.js";

const forwarded = (host: string, uri: string) => ({
  "X-Forwarded-Proto": "https",
  "X-Forwarded-Host": host,
  "X-Forwarded-Uri": uri,
});

function problems(env: Env): string[] {
  try {
    loadConfig(testEnv(env));
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

/** Turns TOTP on for the signed-in `cookie`; the confirming code's step is then used. */
async function turnOnTotp(app: Parameters<typeof request>[0], cookie: string) {
  const setup = await request(app).post("/auth/mfa/totp/setup").set("Cookie", cookie);
  const code = await generate({ secret: setup.body.secret });
  const confirm = await request(app).post("/auth/mfa/totp/confirm").set("Cookie", cookie).send({ code });
  expect(confirm.status).toBe(200);
  return setup.body.secret as string;
}

describe("MFA policy", () => {
  it("production refuses a missing or short MFA_ENCRYPTION_KEY unless MFA=off", () => {
    const production = {
      NODE_ENV: "production",
      TRUST_PROXY: "1",
      APP_ORIGIN: "https://app.example.com",
      MFA_ENCRYPTION_KEY: undefined,
    };
    expect(problems(production).some((p) => p.startsWith("MFA_ENCRYPTION_KEY:"))).toBe(true);
    expect(
      problems({ ...production, MFA_ENCRYPTION_KEY: "short" }).some((p) =>
        p.startsWith("MFA_ENCRYPTION_KEY:"),
      ),
    ).toBe(true);
    expect(problems({ ...production, MFA: "off" }).some((p) => p.startsWith("MFA_ENCRYPTION_KEY:"))).toBe(
      false,
    );
  });

  it("MFA=required sends a session without a second factor to set one up before anything else", async () => {
    const t = await testApp({ env: { MFA: "required", FORWARD_AUTH_RULES: "mfa:admin.example.com/,*/" } });
    const { cookie } = await registerUser(t);
    const refused = await request(t.app).get("/api/echo-profile").set("Cookie", cookie);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("mfa_setup_required");
    expect((await request(t.app).get("/auth/mfa").set("Cookie", cookie)).body).toMatchObject({
      totp: false,
      required: true,
    });
    await request(t.app).get("/auth/me").set("Cookie", cookie).expect(200);

    await turnOnTotp(t.app, cookie);
    // The confirming code authenticated this session with a second factor: the gate and mfa: rules open.
    expect((await request(t.app).get("/api/echo-profile").set("Cookie", cookie)).status).not.toBe(403);
    const verified = await request(t.app)
      .get("/auth/verify")
      .set({ Cookie: cookie, ...forwarded("admin.example.com", "/") });
    expect(verified.status).toBe(200);
    expect(verified.headers["x-auth-mfa"]).toBe("true");
  });

  it("/auth/verify says how the session was authenticated, and an mfa: rule needs a second factor", async () => {
    const t = await testApp({ env: { FORWARD_AUTH_RULES: "mfa:admin.example.com/,*/" } });
    const { cookie, email } = await registerUser(t);
    const app = await request(t.app)
      .get("/auth/verify")
      .set({ Cookie: cookie, ...forwarded("app.example.com", "/") });
    expect(app.status).toBe(200);
    expect(app.headers["x-auth-mfa"]).toBe("false");
    const admin = await request(t.app)
      .get("/auth/verify")
      .set({ Cookie: cookie, ...forwarded("admin.example.com", "/x") });
    expect(admin.status).toBe(403);
    expect(admin.body.error.code).toBe("second_factor_required");

    const secret = await turnOnTotp(t.app, cookie);
    const pending = await request(t.app)
      .post("/auth/login")
      .send({ email, password: "correct horse battery" });
    const pendingCookie = pending.headers["set-cookie"]?.[0]?.split(";")[0] as string;
    const code = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
    const done = await request(t.app).post("/auth/mfa/verify").set("Cookie", pendingCookie).send({ code });
    const signedIn = done.headers["set-cookie"]?.[0]?.split(";")[0] as string;
    const again = await request(t.app)
      .get("/auth/verify")
      .set({ Cookie: signedIn, ...forwarded("admin.example.com", "/x") });
    expect(again.status).toBe(200);
    expect(again.headers["x-auth-mfa"]).toBe("true");
  });

  it("MFA=off mounts no factor endpoint and signs a password straight in", async () => {
    const t = await testApp({ env: { MFA: "off" } });
    const { email } = await registerUser(t);
    expect((await request(t.app).post("/auth/mfa/totp/setup")).status).toBe(404);
    const res = await login(t, email);
    expect(res.res.body.user.email).toBe(email);
  });
});
