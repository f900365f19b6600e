import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Env, loadConfig } from "../../server/config/config.js";
import { loadEnvFile } from "../../server/process/env-file.js";
import { buildTestApp, type TestApp } from "../helpers/app.js";
import { configMessage, productionEnv } from "../helpers/config-env.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { capturingLogger } from "../helpers/logger.js";

const SECRET = "s".repeat(48);

describe("a deployed instance never gets development defaults", () => {
  it("on Railway without NODE_ENV it is production, and refuses to start without a secret, saying why", () => {
    expect(configMessage({ RAILWAY_ENVIRONMENT: "production" })).toMatch(
      /SESSION_SECRET: required in production/,
    );
    const config = loadConfig({
      RAILWAY_ENVIRONMENT: "production",
      RAILWAY_PUBLIC_DOMAIN: "app.up.railway.app",
      SESSION_SECRET: SECRET,
      MFA_ENCRYPTION_KEY: SECRET,
    });
    expect(config).toMatchObject({
      env: "production",
      isProduction: true,
      platform: "Railway",
      trustProxy: 1,
    });
    expect(config.session).toMatchObject({
      cookieSecure: true,
      cookieName: "__Host-sid",
    });
    expect(config.session.secrets).toEqual([SECRET]);
  });

  it("other platforms are recognised by their own variables", () => {
    expect(
      loadConfig({
        RENDER: "true",
        SESSION_SECRET: SECRET,
        MFA_ENCRYPTION_KEY: SECRET,
        PUBLIC_URL: "https://auth.example.com",
        TRUST_PROXY: "1",
      }).platform,
    ).toBe("Render");
    expect(
      loadConfig({
        FLY_APP_NAME: "app",
        SESSION_SECRET: SECRET,
        MFA_ENCRYPTION_KEY: SECRET,
        PUBLIC_URL: "https://auth.example.com",
        TRUST_PROXY: "1",
      }).isProduction,
    ).toBe(true);
    expect(loadConfig({}).platform).toBeUndefined();
    expect(loadConfig({}).isProduction).toBe(false);
  });

  it("an explicit NODE_ENV=development on a platform is obeyed but warned about", () => {
    const config = loadConfig({ RAILWAY_ENVIRONMENT: "staging", NODE_ENV: "development" });
    expect(config.isProduction).toBe(false);
    expect(config.warnings.join("\n")).toMatch(/NODE_ENV=development on Railway/);
  });

  it("refuses a __Host- or __Secure- cookie name without Secure", () => {
    expect(configMessage({ SESSION_COOKIE_NAME: "__Host-sid" })).toMatch(
      /SESSION_COOKIE_NAME: a __Host- or __Secure-/,
    );
    expect(
      configMessage(productionEnv({ COOKIE_SECURE: "false", SESSION_COOKIE_NAME: "__Secure-s" })),
    ).toMatch(/SESSION_COOKIE_NAME/);
    expect(loadConfig({ SESSION_COOKIE_NAME: "__Host-sid", COOKIE_SECURE: "true" }).session.cookieName).toBe(
      "__Host-sid",
    );
  });

  it.each(["0.0.0.0/0", "::/0", "10.0.0.0/8, 0.0.0.0/0", "::ffff:0:0/96", "1.2.3.4/0", "true"])(
    "refuses TRUST_PROXY=%s, which trusts every address",
    (value) => {
      expect(configMessage({ TRUST_PROXY: value })).toMatch(/TRUST_PROXY: /);
    },
  );

  it("in production without TRUST_PROXY: 1 on Railway (its edge sets X-Forwarded-For), elsewhere no start", () => {
    const base = productionEnv({ TRUST_PROXY: undefined });
    expect(loadConfig({ ...base, RAILWAY_PROJECT_ID: "p" }).trustProxy).toBe(1);
    const message = configMessage(base);
    expect(message).toMatch(/TRUST_PROXY: required in production/);
    expect(message).toMatch(/TRUST_PROXY=false when clients connect to it directly/);
    expect(message).toMatch(/hop count \(e\.g\. TRUST_PROXY=1\) or their addresses\/CIDRs/);
    expect(configMessage({ ...base, RENDER: "true" })).toMatch(
      /TRUST_PROXY: required in production on Render/,
    );
    expect(loadConfig({ ...base, TRUST_PROXY: "false" }).trustProxy).toBe(0);
    expect(loadConfig({ ...base, TRUST_PROXY: "FALSE" }).trustProxy).toBe(0);
    expect(loadConfig({ ...base, TRUST_PROXY: "10.0.0.2" }).trustProxy).toEqual(["10.0.0.2"]);
    expect(loadConfig({ TRUST_PROXY: undefined }).trustProxy).toBe(0); // development: no proxy assumed
  });

  it("still accepts hop counts and real proxy ranges", () => {
    expect(loadConfig({ TRUST_PROXY: "1" }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: "10.0.0.0/8,fd00::/8" }).trustProxy).toEqual(["10.0.0.0/8", "fd00::/8"]);
  });

  it("refuses SameSite=None without Secure and warns on COOKIE_SECURE=false in production", () => {
    expect(configMessage({ COOKIE_SAMESITE: "none" })).toMatch(/COOKIE_SAMESITE/);
    const config = loadConfig(productionEnv({ COOKIE_SECURE: "false", TRUST_PROXY: "false" }));
    expect(config.warnings.join("\n")).toMatch(/COOKIE_SECURE=false in production/);
    expect(loadConfig({ COOKIE_SECURE: "false" }).warnings.join("\n")).not.toMatch(/COOKIE_SECURE/);
  });
});

describe("the platform's draining time sizes the shutdown", () => {
  const prod = productionEnv();

  it("keeps the defaults when the platform says nothing", () => {
    expect(loadConfig(prod)).toMatchObject({ shutdownDelayMs: 5000, shutdownTimeoutMs: 10_000 });
    expect(loadConfig({})).toMatchObject({ shutdownDelayMs: 0, shutdownTimeoutMs: 10_000 });
  });

  it("fits delay and timeout into RAILWAY_DEPLOYMENT_DRAINING_SECONDS, keeping 2 s to close and exit", () => {
    expect(loadConfig({ ...prod, RAILWAY_DEPLOYMENT_DRAINING_SECONDS: "30" })).toMatchObject({
      shutdownDelayMs: 5000,
      shutdownTimeoutMs: 23_000,
    });
    const short = loadConfig({ ...prod, RAILWAY_DEPLOYMENT_DRAINING_SECONDS: "8" });
    expect(short).toMatchObject({ shutdownDelayMs: 2000, shutdownTimeoutMs: 4000 });
    expect(short.warnings.filter((w) => /SHUTDOWN|DRAINING/.test(w))).toEqual([]);
  });

  it("explicit values win; a shutdown longer than the draining time is warned about", () => {
    const config = loadConfig({
      ...prod,
      RAILWAY_DEPLOYMENT_DRAINING_SECONDS: "10",
      SHUTDOWN_TIMEOUT_MS: "20000",
    });
    expect(config).toMatchObject({ shutdownDelayMs: 2666, shutdownTimeoutMs: 20_000 });
    expect(config.warnings.join("\n")).toMatch(/exceed RAILWAY_DEPLOYMENT_DRAINING_SECONDS/);
  });

  it("Railway's default of 0 s is warned about: SIGKILL follows SIGTERM at once", () => {
    const config = loadConfig({ ...prod, RAILWAY_DEPLOYMENT_DRAINING_SECONDS: "0" });
    expect(config).toMatchObject({ shutdownDelayMs: 0, shutdownTimeoutMs: 0 });
    expect(config.warnings.join("\n")).toMatch(/RAILWAY_DEPLOYMENT_DRAINING_SECONDS=0/);
  });
});

describe(".env file", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "envfile-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("fills in what the environment lacks; the environment's own values win", () => {
    const path = join(dir, ".env");
    writeFileSync(path, '# comment\nLOG_LEVEL=debug\nKEY_PREFIX="from-file"\nPORT=4000\n');
    const env: Env = { PORT: "5000" };
    expect(loadEnvFile(path, env).sort()).toEqual(["KEY_PREFIX", "LOG_LEVEL"]);
    expect(env).toEqual({ PORT: "5000", LOG_LEVEL: "debug", KEY_PREFIX: "from-file" });
  });

  it("is ignored under NODE_ENV=test, so a developer's .env never reaches the test servers", () => {
    const path = join(dir, ".env");
    writeFileSync(path, "REDIS_URL=redis://127.0.0.1:1\n");
    const env: Env = { NODE_ENV: "test" };
    expect(loadEnvFile(path, env)).toEqual([]);
    expect(env).toEqual({ NODE_ENV: "test" });
  });

  it("is optional", () => {
    const env: Env = {};
    expect(loadEnvFile(join(dir, "missing.env"), env)).toEqual([]);
    expect(env).toEqual({});
  });
});

describe("HTTP", () => {
  let database: TestDatabase;
  let t: TestApp;
  const log = capturingLogger("warn");
  beforeAll(async () => {
    database = await createTestDatabase();
    t = await buildTestApp({ db: database.db, logger: log.logger, env: { TRUST_PROXY: "0" } });
  });
  afterAll(async () => {
    await t?.close();
    await database?.close();
  });

  it("GET /health answers what /health/complete says", async () => {
    const [bare, complete] = await Promise.all([
      request(t.app).get("/health"),
      request(t.app).get("/health/complete"),
    ]);
    expect(bare.status).toBe(200);
    expect(bare.status).toBe(complete.status);
    expect(bare.body.status).toBe("healthy");
    expect(Object.keys(bare.body.checks)).toEqual(Object.keys(complete.body.checks));
    const ietf = await request(t.app).get("/health").set("Accept", "application/health+json");
    expect(ietf.headers["content-type"]).toMatch(/application\/health\+json/);
  });

  it("warns once when X-Forwarded-For arrives while no proxy is trusted", async () => {
    await request(t.app).get("/health/live").set("X-Forwarded-For", "203.0.113.7");
    await request(t.app).get("/health/live").set("X-Forwarded-For", "203.0.113.8");
    const warnings = log.lines.filter((l) =>
      l.includes("X-Forwarded-For received but forwarded headers are not trusted"),
    );
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0] as string).level).toBe("warn");
  });
});
