import { readFileSync } from "node:fs";
import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../server/config/config.js";
import { connectRedis, createRedisClient } from "../../../server/infra/redis/redis-client.js";
import { privateRedisServer, testApp } from "../../helpers/fixtures.js";
import { capturingLogger } from "../../helpers/logger.js";
import type { RedisServer } from "../../helpers/redis-server.js";
import { makeTlsFiles } from "../../helpers/tls.js";

let tlsServer: RedisServer;
let files: ReturnType<typeof makeTlsFiles>;
let otherCa: ReturnType<typeof makeTlsFiles>;

beforeAll(async () => {
  files = makeTlsFiles();
  otherCa = makeTlsFiles();
  tlsServer = await privateRedisServer({ tls: files });
});

describe("Redis over TLS", () => {
  it("connects with rediss:// and the CA given as a file path, and serves sessions", async () => {
    const t = await testApp({ env: { REDIS_URL: tlsServer.url, REDIS_TLS_CA: files.ca } });
    expect(await t.redis!.ping()).toBe("PONG");
    const res = await request(t.app)
      .post("/auth/register")
      .send({ email: `tls-${Date.now()}@example.com`, password: "password-123" });
    expect(res.status).toBe(201);
  });

  it("accepts the CA as inline PEM (with \\n escapes, as platforms store it)", async () => {
    const pem = readFileSync(files.ca, "utf8").replace(/\n/g, "\\n");
    const t = await testApp({ env: { REDIS_URL: tlsServer.url, REDIS_TLS_CA: pem } });
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
