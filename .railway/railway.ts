// Railway infrastructure as code: `railway config plan` previews, `railway config apply` applies (README).
import { defineRailway, postgres, preserve, project, redis, service } from "railway/iac";

/** Seconds between SIGTERM and SIGKILL on redeploy; Railway's default is 0, which skips the graceful shutdown. */
export const DRAINING_SECONDS = 30;

export default defineRailway((ctx) => {
  const production = ctx.environment === undefined || ctx.isEnvironment("production");
  const replicas = production ? 2 : 1;
  const cache = redis("redis");
  const db = postgres("postgres");

  const app = service("app", {
    build: { builder: "RAILPACK", buildCommand: "npm run build" },
    // node itself receives SIGTERM: no npm in between, no compiling at boot.
    start: "node dist/server/main.js",
    healthcheck: "/health/ready",
    healthcheckTimeout: 60,
    replicas,
    deploy: {
      restartPolicyType: "ON_FAILURE",
      restartPolicyMaxRetries: 5,
      drainingSeconds: DRAINING_SECONDS,
      // The new deployment takes traffic before the old one is drained.
      overlapSeconds: 10,
    },
    env: {
      NODE_ENV: "production",
      // Railpack reads engines.node first, a range: pin the build and the runtime to Node 22 LTS.
      RAILPACK_NODE_VERSION: "22",
      REDIS_URL: cache.env.REDIS_URL,
      DATABASE_URL: db.env.DATABASE_URL,
      // Railway's edge is one proxy hop in front of the service.
      TRUST_PROXY: "1",
      // With several replicas each in-process fallback limiter takes its share of the limits.
      RATE_LIMIT_INSTANCES: String(replicas),
      // Set once per environment with `railway variables --set` (README); apply keeps it and never prints it.
      SESSION_SECRET: preserve(),
    },
  });

  return project("redis-session-server", { resources: [cache, db, app] });
});
