import { describe, expect, it } from "vitest";
import { loadConfig } from "../../server/config/config.js";
import { configMessage, productionEnv } from "../helpers/config-env.js";
import { runProcess } from "../helpers/processes.js";

const STRONG = "x".repeat(40);

describe("configuration", () => {
  it("production refuses to start without SESSION_SECRET, naming it", () => {
    expect(configMessage({ NODE_ENV: "production" })).toMatch(/SESSION_SECRET: required in production/);
  });

  it("production refuses a secret shorter than 32 characters, also in a rotation list", () => {
    expect(configMessage({ NODE_ENV: "production", SESSION_SECRET: "short" })).toMatch(/SESSION_SECRET/);
    expect(configMessage({ NODE_ENV: "production", SESSION_SECRET: `${STRONG},short` })).toMatch(
      /SESSION_SECRET/,
    );
  });

  it("production refuses to start without an origin for passkeys unless MFA=off, naming PUBLIC_URL", () => {
    const base = productionEnv({ PUBLIC_URL: undefined });
    expect(configMessage(base)).toMatch(/PUBLIC_URL: required in production unless MFA=off/);
    expect(configMessage({ ...base, MFA: "required" })).toMatch(/PUBLIC_URL: required in production/);
    expect(loadConfig({ ...base, MFA: "off" }).mail.publicUrl).toMatch(/^http:\/\/localhost:/);
    // The mail worker and the CLIs answer no browser: on Railway the worker has no public domain.
    expect(loadConfig(base, { serves: false }).mfa.mode).toBe("optional");
    expect(loadConfig({ ...base, PUBLIC_URL: "https://auth.example.com" }).mail.publicUrl).toBe(
      "https://auth.example.com",
    );
    expect(loadConfig({ ...base, APP_ORIGIN: "https://app.example.com" }).mail.publicUrl).toBe(
      "https://app.example.com",
    );
    expect(loadConfig({ ...base, RAILWAY_PUBLIC_DOMAIN: "app.up.railway.app" }).mail.publicUrl).toBe(
      "https://app.up.railway.app",
    );
    // Outside production the development origin serves (http://localhost is a secure context).
    expect(loadConfig({}).mail.publicUrl).toMatch(/^http:\/\/localhost:/);
  });

  it("development generates a random secret and warns", () => {
    const a = loadConfig({});
    const b = loadConfig({});
    expect(a.session.secrets[0]).not.toBe(b.session.secrets[0]);
    expect(a.session.secrets[0]!.length).toBeGreaterThanOrEqual(32);
    expect(a.warnings.join()).toMatch(/SESSION_SECRET is not set/);
  });

  it("splits a secret list: first signs, all verify", () => {
    const c = loadConfig({ SESSION_SECRET: `${STRONG}a, ${STRONG}b` });
    expect(c.session.secrets).toEqual([`${STRONG}a`, `${STRONG}b`]);
  });

  it("names every bad variable in one error", () => {
    const message = configMessage({
      PORT: "eighty",
      REDIS_URL: "http://user:hunter2@host:1",
      LOG_LEVEL: "loud",
    });
    expect(message).toMatch(/PORT: must be a whole number/);
    expect(message).toMatch(/LOG_LEVEL/);
    const redis = configMessage({ REDIS_URL: "not a url" });
    expect(redis).toMatch(/REDIS_URL: not a valid URL/);
    expect(configMessage({ REDIS_URL: "http://user:hunter2@host:1" })).toMatch(
      /REDIS_URL: scheme must be redis/,
    );
    expect(configMessage({ REDIS_URL: "http://user:hunter2@host:1" })).not.toContain("hunter2");
    expect(configMessage({ PORT: "70000" })).toMatch(/PORT/);
  });

  it("rejects TRUST_PROXY=true and accepts false, hop counts and CIDR lists", () => {
    expect(configMessage({ TRUST_PROXY: "true" })).toMatch(
      /TRUST_PROXY: must be false \(no proxy\), a hop count/,
    );
    expect(loadConfig({ TRUST_PROXY: "false" }).trustProxy).toBe(0);
    expect(loadConfig({ TRUST_PROXY: "2" }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: "10.0.0.0/8, fd00::/8" }).trustProxy).toEqual([
      "10.0.0.0/8",
      "fd00::/8",
    ]);
    expect(loadConfig(productionEnv({ TRUST_PROXY: "1" })).trustProxy).toBe(1);
    expect(loadConfig({}).trustProxy).toBe(0);
  });

  it("production defaults: secure cookie named __Host-sid, SameSite strict", () => {
    const c = loadConfig(productionEnv({ TRUST_PROXY: "false" }));
    expect(c.session).toMatchObject({
      cookieSecure: true,
      cookieName: "__Host-sid",
      sameSite: "strict",
      ttlSeconds: 86_400,
    });
    expect(c.session.absoluteTtlSeconds).toBe(7 * 86_400);
    expect(c.keyPrefix).toBe("app");
    expect(c.port).toBe(3000);
    expect(c.host).toBe("0.0.0.0");
  });

  it("reads Redis from REDIS_URL, REDIS_PRIVATE_URL, REDIS_* parts or Railway's REDIS* variables", () => {
    const url = loadConfig({ REDIS_URL: "redis://default:p%40ss@cache.internal:6380/2" }).redis!;
    expect(url).toMatchObject({
      host: "cache.internal",
      port: 6380,
      username: "default",
      password: "p@ss",
      db: 2,
    });
    expect(url.tls).toBeUndefined();
    expect(url.source).not.toContain("p@ss");
    expect(loadConfig({ REDIS_PRIVATE_URL: "redis://h:1" }).redis).toMatchObject({ host: "h", port: 1 });
    expect(
      loadConfig({ REDIS_HOST: "h2", REDIS_PORT: "7000", REDIS_PASSWORD: "pw", REDIS_DB: "3" }).redis,
    ).toMatchObject({
      host: "h2",
      port: 7000,
      password: "pw",
      db: 3,
    });
    expect(
      loadConfig({
        REDISHOST: "redis.railway.internal",
        REDISPORT: "6379",
        REDISUSER: "default",
        REDISPASSWORD: "pw",
      }).redis,
    ).toMatchObject({ host: "redis.railway.internal", username: "default", password: "pw" });
    expect(loadConfig({ REDIS_URL: "redis://[::1]:6379" }).redis!.host).toBe("::1");
    expect(loadConfig({}).redis).toBeUndefined();
  });

  it("turns TLS on from rediss:// or REDIS_TLS=true, verifying certificates", () => {
    const tls = loadConfig({ REDIS_URL: "rediss://default:pw@redis.example.com:6380" }).redis!.tls;
    expect(tls).toMatchObject({ rejectUnauthorized: true, servername: "redis.example.com" });
    expect(loadConfig({ REDIS_HOST: "h", REDIS_TLS: "true" }).redis!.tls).toBeDefined();
    expect(loadConfig({ REDIS_URL: "rediss://h:1", REDIS_TLS: "false" }).redis!.tls).toBeUndefined();
    expect(configMessage({ REDIS_URL: "rediss://h:1", REDIS_TLS_CA: "/no/such/file.pem" })).toMatch(
      /REDIS_TLS_CA/,
    );
    expect(configMessage({ REDIS_TLS: "yes" })).toMatch(/REDIS_TLS/);
  });

  it("reads CACHE_REDIS_URL like REDIS_URL, TLS from its scheme, and only beside a main Redis", () => {
    const config = loadConfig({
      REDIS_URL: "redis://sessions.internal:6379",
      CACHE_REDIS_URL: "rediss://default:p%40ss@cache.example.com:6380/2",
      REDIS_TLS_REJECT_UNAUTHORIZED: "false",
    });
    expect(config.cacheRedis).toMatchObject({
      host: "cache.example.com",
      port: 6380,
      username: "default",
      password: "p@ss",
      db: 2,
      tls: { rejectUnauthorized: false, servername: "cache.example.com" },
      source: "CACHE_REDIS_URL=rediss://default:***@cache.example.com:6380/2",
    });
    expect(config.redis?.tls).toBeUndefined();
    expect(config.warnings.filter((w) => w.includes("REDIS_TLS_REJECT_UNAUTHORIZED"))).toHaveLength(1);
    expect(loadConfig({ REDIS_URL: "redis://h:1" }).cacheRedis).toBeUndefined();
    expect(configMessage({ CACHE_REDIS_URL: "redis://h:1" })).toMatch(/CACHE_REDIS_URL: needs REDIS_URL/);
    const bad = configMessage({ REDIS_URL: "redis://h:1", CACHE_REDIS_URL: "http://secret@h:1" });
    expect(bad).toMatch(/CACHE_REDIS_URL: scheme must be redis:\/\/ or rediss:\/\//);
    expect(configMessage({ REDIS_AUDIT_INTERVAL_MS: "10" })).toMatch(/REDIS_AUDIT_INTERVAL_MS/);
  });

  it("reads QUEUE_REDIS_URL like REDIS_URL; without it the queue uses the sessions' Redis", () => {
    const config = loadConfig({
      REDIS_URL: "redis://sessions.internal:6379/1",
      QUEUE_REDIS_URL: "rediss://default:p%40ss@jobs.example.com:6380/3",
      REDIS_COMMAND_TIMEOUT_MS: "250",
    });
    expect(config.queue.redis).toMatchObject({
      host: "jobs.example.com",
      port: 6380,
      password: "p@ss",
      db: 3,
      tls: { rejectUnauthorized: true, servername: "jobs.example.com" },
      source: "QUEUE_REDIS_URL=rediss://default:***@jobs.example.com:6380/3",
      commandTimeoutMs: 250,
    });
    const shared = loadConfig({ REDIS_URL: "redis://sessions.internal:6379/1", REDIS_CLUSTER: "false" });
    expect(shared.queue.redis).toEqual(shared.redis);
    expect(loadConfig({}).queue.redis).toBeUndefined();
    expect(configMessage({ QUEUE_REDIS_URL: "redis://h:1" })).toMatch(/QUEUE_REDIS_URL: needs REDIS_URL/);
    const bad = configMessage({ REDIS_URL: "redis://h:1", QUEUE_REDIS_URL: "http://secret@h:1" });
    expect(bad).toMatch(/QUEUE_REDIS_URL: scheme must be redis:\/\/ or rediss:\/\//);
    expect(bad).not.toMatch(/secret/);
  });

  it("treats empty variables as unset (Railway leaves VAR= around)", () => {
    expect(loadConfig({ PORT: "", REDIS_URL: " " }).port).toBe(3000);
  });

  it("the server process exits 1 with a message naming the variable", async () => {
    // From source: the unit tier builds nothing.
    const result = await runProcess(
      "server/main.ts",
      { PATH: process.env.PATH, NODE_ENV: "production", PORT: "not-a-port" },
      { defaults: false, source: true, timeoutMs: 20_000 },
    );
    expect(result.code).toBe(1);
    // One fatal JSON log line (the boot's logger writes to stdout).
    expect(result.output).toMatch(/SESSION_SECRET: required in production/);
    expect(result.output).toMatch(/PORT: must be a whole number/);
    expect(result.output).not.toMatch(/at .*\.ts:\d+/);
  });

  it("bounds HTTP requests and detects a stalled Redis after one command timeout unless told otherwise", () => {
    const defaults = loadConfig({ REDIS_URL: "redis://h:1", REDIS_COMMAND_TIMEOUT_MS: "300" });
    expect(defaults.http).toEqual({ requestTimeoutMs: 30_000, headersTimeoutMs: 10_000 });
    expect(defaults.redis?.stallTimeoutMs).toBe(300);
    expect(
      loadConfig({ REDIS_URL: "redis://h:1", REDIS_STALL_TIMEOUT_MS: "800" }).redis?.stallTimeoutMs,
    ).toBe(800);
    expect(() => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: "5000", HTTP_HEADERS_TIMEOUT_MS: "6000" })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS: must not be longer than HTTP_REQUEST_TIMEOUT_MS/,
    );
  });
});
