import { readFileSync } from "node:fs";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../server/config/config.js";
import { connectRedis, createRedisClient } from "../server/redis/redis-client.js";
import { buildTestApp, type TestApp } from "./helpers/app.js";
import { createTestDatabase, type TestDatabase } from "./helpers/database.js";
import { capturingLogger } from "./helpers/logger.js";
import { type RedisServer, startRedisServer } from "./helpers/redis-server.js";
import { makeTlsFiles } from "./helpers/tls.js";

let tlsServer: RedisServer;
let database: TestDatabase;
let files: ReturnType<typeof makeTlsFiles>;
let otherCa: ReturnType<typeof makeTlsFiles>;
const apps: TestApp[] = [];

beforeAll(async () => {
  files = makeTlsFiles();
  otherCa = makeTlsFiles();
  tlsServer = await startRedisServer({ tls: files });
  database = await createTestDatabase();
});

afterAll(async () => {
  for (const a of apps) await a.close();
  await database?.close();
  await tlsServer?.stop();
});

describe("Redis over TLS", () => {
  it("connects with rediss:// and the CA given as a file path, and serves sessions", async () => {
    const t = await buildTestApp({
      db: database.db,
      env: { REDIS_URL: tlsServer.url, REDIS_TLS_CA: files.ca },
    });
    apps.push(t);
    expect(await t.redis!.ping()).toBe("PONG");
    const res = await request(t.app)
      .post("/auth/register")
      .send({ email: `tls-${Date.now()}@example.com`, password: "password-123" });
    expect(res.status).toBe(201);
  });

  it("accepts the CA as inline PEM (with \\n escapes, as platforms store it)", async () => {
    const pem = readFileSync(files.ca, "utf8").replace(/\n/g, "\\n");
    const t = await buildTestApp({ db: database.db, env: { REDIS_URL: tlsServer.url, REDIS_TLS_CA: pem } });
    apps.push(t);
    expect(await t.redis!.ping()).toBe("PONG");
  });

  it("refuses a server whose certificate it cannot verify, and says why in the log", async () => {
    const { logger, text } = capturingLogger();
    const config = loadConfig({
      REDIS_URL: tlsServer.url,
      REDIS_TLS_CA: otherCa.ca,
      REDIS_CONNECT_TIMEOUT_MS: "2000",
    });
    const client = createRedisClient(config.redis!, logger, "tls-bad");
    const connected = await connectRedis(client, logger);
    expect(connected).toBe(false);
    await expect(client.ping()).rejects.toThrow();
    client.disconnect();
    expect(text()).toMatch(/certificate|self.signed|unable to verify/i);
  });

  it("verifies by default: without the CA the self-made certificate is refused", async () => {
    const { logger } = capturingLogger();
    const config = loadConfig({ REDIS_URL: tlsServer.url, REDIS_CONNECT_TIMEOUT_MS: "2000" });
    expect(config.redis!.tls?.rejectUnauthorized).toBe(true);
    const client = createRedisClient(config.redis!, logger, "tls-default");
    expect(await connectRedis(client, logger)).toBe(false);
    client.disconnect();
  });

  it("only REDIS_TLS_REJECT_UNAUTHORIZED=false skips verification, with a warning", async () => {
    const config = loadConfig({ REDIS_URL: tlsServer.url, REDIS_TLS_REJECT_UNAUTHORIZED: "false" });
    expect(config.warnings.join("\n")).toMatch(/NOT verified/);
    const { logger } = capturingLogger();
    const client = createRedisClient(config.redis!, logger, "tls-insecure");
    expect(await connectRedis(client, logger)).toBe(true);
    expect(await client.ping()).toBe("PONG");
    client.disconnect();
  });
});
