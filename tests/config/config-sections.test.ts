import request from "supertest";
import { describe, expect, it } from "vitest";
import { ADMIN_VARIABLES } from "../../server/config/admin.js";
import { CACHE_VARIABLES } from "../../server/config/cache.js";
import { CONFIG_VARIABLES, loadConfig } from "../../server/config/config.js";
import { DATABASE_VARIABLES } from "../../server/config/database.js";
import { DEVICE_VARIABLES } from "../../server/config/device.js";
import { FORWARD_AUTH_VARIABLES } from "../../server/config/forward-auth.js";
import { HEALTH_VARIABLES } from "../../server/config/health.js";
import { HTTP_VARIABLES } from "../../server/config/http.js";
import { MAIL_VARIABLES } from "../../server/config/mail.js";
import { MFA_VARIABLES } from "../../server/config/mfa.js";
import { OIDC_VARIABLES } from "../../server/config/oidc.js";
import { OPENAI_VARIABLES } from "../../server/config/openai.js";
import { PASSWORD_VARIABLES } from "../../server/config/password.js";
import { PLATFORM_VARIABLES } from "../../server/config/platform.js";
import { RATE_LIMIT_VARIABLES } from "../../server/config/rate-limit.js";
import { REDIS_VARIABLES } from "../../server/config/redis.js";
import { SECURITY_VARIABLES } from "../../server/config/security.js";
import { SESSION_VARIABLES } from "../../server/config/session.js";
import { TOKEN_VARIABLES } from "../../server/config/tokens.js";
import { WORKERS_VARIABLES } from "../../server/config/workers.js";
import { configProblems } from "../helpers/config-env.js";
import { testApp } from "../helpers/fixtures.js";

describe("configuration sections", () => {
  it("every variable belongs to exactly one section", () => {
    const sections = [
      PLATFORM_VARIABLES,
      HTTP_VARIABLES,
      REDIS_VARIABLES,
      DATABASE_VARIABLES,
      SESSION_VARIABLES,
      PASSWORD_VARIABLES,
      CACHE_VARIABLES,
      RATE_LIMIT_VARIABLES,
      HEALTH_VARIABLES,
      OPENAI_VARIABLES,
      ADMIN_VARIABLES,
      WORKERS_VARIABLES,
      FORWARD_AUTH_VARIABLES,
      SECURITY_VARIABLES,
      MAIL_VARIABLES,
      TOKEN_VARIABLES,
      DEVICE_VARIABLES,
      MFA_VARIABLES,
      OIDC_VARIABLES,
    ];
    const names = sections.flatMap((s) => Object.keys(s));
    expect(names.length).toBe(new Set(names).size);
    expect([...names].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });

  it("still names every bad variable of every section in one error", () => {
    const found = configProblems({
      PORT: "x",
      REDIS_COMMAND_TIMEOUT_MS: "1",
      DATABASE_SCHEMA: "Bad-Schema",
      SESSION_TTL_SECONDS: "0",
      PASSWORD_SCRYPT_LOG_N: "99",
      CACHE_CATEGORIES: "Search:10",
      RATE_LIMIT_API_LIMIT: "0",
      HEALTH_CHECK_TIMEOUT_MS: "1",
      OPENAI_TIMEOUT_MS: "1",
      ADMIN_API_KEY: "short",
      NODE_ENV: "staging",
    }).map((p) => p.split(":")[0]);
    expect(found.sort()).toEqual(
      [
        "PORT",
        "REDIS_COMMAND_TIMEOUT_MS",
        "DATABASE_SCHEMA",
        "SESSION_TTL_SECONDS",
        "PASSWORD_SCRYPT_LOG_N",
        "CACHE_CATEGORIES",
        "RATE_LIMIT_API_LIMIT",
        "HEALTH_CHECK_TIMEOUT_MS",
        "OPENAI_TIMEOUT_MS",
        "ADMIN_API_KEY",
        "NODE_ENV",
      ].sort(),
    );
  });
});

describe("REDIS_DB and Redis Cluster", () => {
  it("refuses a database other than 0 when REDIS_CLUSTER_NODES alone turns cluster mode on", () => {
    const found = configProblems({
      REDIS_URL: "redis://h:7000",
      REDIS_DB: "2",
      REDIS_CLUSTER_NODES: "h2:7001",
    });
    expect(found).toEqual([
      "REDIS_DB: Redis Cluster has only database 0 (cluster mode is on through REDIS_CLUSTER_NODES); remove the database number",
    ]);
  });

  it("names the URL when the database number comes from its path, and REDIS_CLUSTER when that is set", () => {
    expect(configProblems({ REDIS_URL: "redis://h:7000/3", REDIS_CLUSTER_NODES: "h2:7001" })[0]).toMatch(
      /^REDIS_URL: Redis Cluster has only database 0/,
    );
    expect(configProblems({ REDIS_HOST: "h", REDIS_DB: "1", REDIS_CLUSTER: "true" })[0]).toMatch(
      /^REDIS_DB: .*through REDIS_CLUSTER=true/,
    );
  });

  it("accepts cluster mode on database 0", () => {
    const redis = loadConfig({
      REDIS_URL: "redis://h:7000",
      REDIS_DB: "0",
      REDIS_CLUSTER_NODES: "h2:7001",
    }).redis;
    expect(redis).toMatchObject({ db: 0, cluster: { nodes: [{ host: "h2", port: 7001 }] } });
  });
});

describe("what an error message shows of a bad value", () => {
  it("shows a bad KEY_PREFIX, so the operator can see what is wrong with it", () => {
    expect(configProblems({ KEY_PREFIX: "my app" })).toEqual([
      `KEY_PREFIX: must be 1-64 letters, digits, '_', '.' or '-' (got "my app")`,
    ]);
  });

  it("hides secrets and the credentials in URLs", () => {
    const found = configProblems({
      ADMIN_API_KEY: "tooshort-admin",
      OPENAI_BASE_URL: "ftp://user:hunter2@example.com/v1",
      REDIS_URL: "http://only-a-token@h:1",
    }).join("\n");
    expect(found).toMatch(/ADMIN_API_KEY: must be at least 16 characters \(got "\*\*\*"\)/);
    expect(found).toMatch(/OPENAI_BASE_URL: .*\(got "ftp:\/\/user:\*\*\*@example.com\/v1"\)/);
    expect(found).not.toMatch(/tooshort-admin|hunter2|only-a-token/);
  });
});

describe("CACHE_CATEGORIES", () => {
  it("adds categories and overrides the built-in TTLs", () => {
    const { categories } = loadConfig({ CACHE_CATEGORIES: "models:600, search:60,notes_v2:5" }).cache;
    expect(categories).toEqual({
      models: { ttlSeconds: 600 },
      users: { ttlSeconds: 300 },
      tokens: { ttlSeconds: 300 },
      search: { ttlSeconds: 60 },
      notes_v2: { ttlSeconds: 5 },
    });
  });

  it.each([
    ["Search:60", /category names must match/],
    ["search:0", /each TTL must be at least 1 second/],
    ["search", /comma-separated list of name:seconds/],
    ["search:1h", /comma-separated list of name:seconds/],
    ["search:5,search:6", /names a category twice/],
    [`${"a".repeat(33)}:5`, /category names must match/],
  ])("refuses %s", (value, message) => {
    const found = configProblems({ CACHE_CATEGORIES: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^CACHE_CATEGORIES: /);
    expect(found[0]).toMatch(message);
  });

  it("keeps CACHE_MODELS_TTL_SECONDS and CACHE_USERS_TTL_SECONDS working, warned as deprecated", () => {
    const config = loadConfig({ CACHE_MODELS_TTL_SECONDS: "120", CACHE_CATEGORIES: "search:60" });
    expect(config.cache.categories).toEqual({
      models: { ttlSeconds: 120 },
      users: { ttlSeconds: 300 },
      tokens: { ttlSeconds: 300 },
      search: { ttlSeconds: 60 },
    });
    expect(config.warnings).toContain(
      "CACHE_MODELS_TTL_SECONDS is deprecated: set CACHE_CATEGORIES=models:120 instead",
    );
    expect(loadConfig({}).warnings.join("\n")).not.toMatch(/deprecated/);
    expect(configProblems({ CACHE_USERS_TTL_SECONDS: "60", CACHE_CATEGORIES: "users:30" })).toEqual([
      "CACHE_USERS_TTL_SECONDS: users is also in CACHE_CATEGORIES; keep only CACHE_CATEGORIES",
    ]);
  });

  it("a declared category exists in the running app: the admin API invalidates it and refuses unknown ones", async () => {
    const ADMIN_API_KEY = "a".repeat(32);
    const t = await testApp({ env: { CACHE_CATEGORIES: "search:60", ADMIN_API_KEY } });
    const invalidate = (category: string) =>
      request(t.app)
        .post("/api/cache/invalidate")
        .set("Authorization", `Bearer ${ADMIN_API_KEY}`)
        .send({ category });
    const ok = await invalidate("search");
    expect(ok.status).toBe(200);
    expect(ok.body.invalidated).toEqual(["search"]);
    const all = await invalidate("all");
    expect([...all.body.invalidated].sort()).toEqual(["models", "search", "tokens", "users"]);
    expect((await invalidate("notes")).status).toBe(400);
  });
});
