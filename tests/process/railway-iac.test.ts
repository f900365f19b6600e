import { readFileSync } from "node:fs";
import {
  createRailwayContext,
  type Edge,
  project,
  RAILWAY_GRAPH_VERSION,
  type RailwayGraph,
  type ResourceNode,
  type ServiceNode,
  validateGraph,
} from "railway/iac";
import { describe, expect, it } from "vitest";
import program, { DRAINING_SECONDS } from "../../.railway/railway.js";
import { loadConfig } from "../../server/config/config.js";

/** What the Railway CLI does with the file before diffing: run the program, then turn it into a graph. */
async function evaluate(environment: string): Promise<RailwayGraph> {
  const definition = await program(createRailwayContext({ environment, command: "plan" }), project);
  const resources = (definition.resources ?? []).flat() as ResourceNode[];
  return toGraph(definition.name, environment, resources);
}

function toGraph(name: string, environment: string, resources: ResourceNode[]): RailwayGraph {
  const edges: Edge[] = [];
  for (const resource of resources) {
    if (resource.type !== "service") continue;
    for (const [key, value] of Object.entries(resource.variables ?? {})) {
      if (value.type === "reference")
        edges.push({ from: resource.address, to: value.resource, type: "variable", key });
    }
  }
  return {
    version: RAILWAY_GRAPH_VERSION,
    project: { name },
    environments: [{ name: environment }],
    resources,
    edges,
  };
}

function appService(graph: RailwayGraph, name = "app"): ServiceNode {
  const app = graph.resources.find((r): r is ServiceNode => r.type === "service" && r.name === name);
  if (!app) throw new Error(`no ${name} service in the graph`);
  return app;
}

/** Values set once with `railway variables --set`, which `preserve()` keeps. */
const PRESERVED: Record<string, string> = {
  SESSION_SECRET: "a-session-secret-set-once-with-railway-variables",
  MFA_ENCRYPTION_KEY: "an-mfa-encryption-key-set-once-with-railway-variables",
  SMTP_URL: "smtps://mailer:pw@smtp.example.com:465",
  MAIL_FROM: "Example <no-reply@example.com>",
  PUBLIC_URL: "https://auth.example.com",
};

describe(".railway/railway.ts", () => {
  it("is a valid graph: the app, a Redis and a PostgreSQL, wired by reference", async () => {
    const graph = await evaluate("production");
    expect(validateGraph(graph)).toEqual([]);
    const databases = graph.resources.filter((r) => r.type === "database");
    expect(databases.map((d) => (d.type === "database" ? d.engine : "")).sort()).toEqual([
      "postgres",
      "redis",
    ]);
    const vars = appService(graph).variables ?? {};
    expect(vars.REDIS_URL).toEqual({ type: "reference", resource: "database.redis", output: "REDIS_URL" });
    expect(vars.DATABASE_URL).toEqual({
      type: "reference",
      resource: "database.postgres",
      output: "DATABASE_URL",
    });
    expect(vars.NODE_ENV).toEqual({ type: "literal", value: "production" });
    // Never a literal: ctx.randomString() would be a hash of the environment name anyone can recompute.
    expect(vars.SESSION_SECRET).toEqual({ type: "preserve" });
  });

  it("a reference to a resource left out of the project fails validation", async () => {
    const graph = await evaluate("production");
    const withoutRedis = graph.resources.filter((r) => r.address !== "database.redis");
    const broken = toGraph(graph.project.name, "production", withoutRedis);
    expect(validateGraph(broken)).toContain("Edge references missing target: database.redis");
  });

  it("starts node itself, checks readiness and drains before SIGKILL", async () => {
    const app = appService(await evaluate("production"));
    expect(app.deploy?.startCommand).toBe("node dist/server/main.js");
    expect(app.deploy?.startCommand).not.toMatch(/\bnpm\b|\btsx\b|\btsc\b/);
    expect(app.build?.buildCommand).toBe("npm run build");
    expect(app.deploy?.healthcheckPath).toBe("/health/ready");
    expect(app.deploy?.drainingSeconds).toBe(DRAINING_SECONDS);
    expect(app.deploy?.restartPolicyType).toBe("ON_FAILURE");
    expect(app.deploy?.numReplicas).toBe(2);
    expect(appService(await evaluate("staging")).deploy?.numReplicas).toBe(1);
  });

  it("migrates once per deploy, before the new instances start: `npm run db:migrate` as the pre-deploy command", async () => {
    const graph = await evaluate("production");
    const pkg = JSON.parse(readFileSync("package.json", "utf8"));
    expect(pkg.scripts["db:migrate"]).toBe("node dist/server/process/cli/migrate.js");
    for (const name of ["app", "worker"]) {
      expect(appService(graph, name).deploy?.preDeployCommand).toEqual(["npm run db:migrate"]);
    }
  });

  it("its variables make a production config whose shutdown fits in the draining time", async () => {
    const app = appService(await evaluate("production"));
    const env: Record<string, string> = {
      RAILWAY_ENVIRONMENT: "production",
      // Railway's own, once the service has a public domain
      // (docs/guides/deploy.md#a-new-project-step-by-step, step 7).
      RAILWAY_PUBLIC_DOMAIN: "auth.example.com",
      RAILWAY_DEPLOYMENT_DRAINING_SECONDS: String(app.deploy?.drainingSeconds),
    };
    for (const [name, value] of Object.entries(app.variables ?? {})) {
      if (value.type === "literal") env[name] = value.value ?? "";
      else if (value.type === "preserve") env[name] = PRESERVED[name] ?? "";
      else if (value.type === "reference" && value.output === "REDIS_URL")
        env[name] = "redis://redis.railway.internal:6379";
      else if (value.type === "reference")
        env[name] = "postgres://postgres:pw@postgres.railway.internal:5432/railway";
    }
    const config = loadConfig(env);
    expect(config.isProduction).toBe(true);
    expect(config.trustProxy).toBe(1);
    expect(config.session.cookieSecure).toBe(true);
    expect(config.rateLimit.instances).toBe(app.deploy?.numReplicas);
    expect(config.shutdownDelayMs).toBeGreaterThan(0);
    expect(config.shutdownDelayMs + config.shutdownTimeoutMs).toBeLessThanOrEqual(DRAINING_SECONDS * 1000);
    expect(config.warnings).toEqual([]);
  });

  it("runs the queued jobs in a worker service of their own; the web replicas run none", async () => {
    const graph = await evaluate("production");
    const app = appService(graph);
    const worker = appService(graph, "worker");
    expect(app.variables?.WORKER_MODE).toEqual({ type: "literal", value: "off" });
    expect(worker.deploy?.startCommand).toBe("node dist/server/worker.js");
    expect(worker.build?.buildCommand).toBe(app.build?.buildCommand);
    expect(worker.deploy?.healthcheckPath ?? undefined).toBeUndefined();
    expect(worker.deploy?.drainingSeconds).toBe(DRAINING_SECONDS);
    const vars = worker.variables ?? {};
    expect(vars.REDIS_URL).toEqual(app.variables?.REDIS_URL);
    expect(vars.DATABASE_URL).toEqual(app.variables?.DATABASE_URL);
    expect(vars.SESSION_SECRET).toMatchObject({ type: "reference", resource: app.address });
    for (const name of ["SMTP_URL", "MAIL_FROM", "PUBLIC_URL"])
      expect(vars[name]).toEqual({ type: "preserve" });

    // Its variables, filled in as Railway would, make a production config the worker accepts.
    const config = loadConfig({
      RAILWAY_ENVIRONMENT: "production",
      NODE_ENV: "production",
      REDIS_URL: "redis://redis.railway.internal:6379",
      DATABASE_URL: "postgres://postgres:pw@postgres.railway.internal:5432/railway",
      ...PRESERVED,
      RAILWAY_DEPLOYMENT_DRAINING_SECONDS: String(DRAINING_SECONDS),
    });
    expect(config.queue.redis?.host).toBe("redis.railway.internal");
    expect(config.shutdownTimeoutMs).toBeLessThanOrEqual(DRAINING_SECONDS * 1000);
  });
});
