// Railway infrastructure as code: `railway config plan` previews, `railway config apply` applies
// (docs/guides/deploy.md).
import { defineRailway, postgres, preserve, project, redis, service } from "railway/iac";

/** Seconds between SIGTERM and SIGKILL on redeploy; Railway's default is 0, which skips the graceful shutdown. */
export const DRAINING_SECONDS = 30;
/** Railway's pre-deploy command: runs between build and deploy; a failure stops the deploy. */
export const MIGRATE_COMMAND = "npm run db:migrate";

export default defineRailway((ctx) => {
  const production = ctx.environment === undefined || ctx.isEnvironment("production");
  const replicas = production ? 2 : 1;
  const cache = redis("redis");
  const db = postgres("postgres");

  const app = service("app", {
    build: { builder: "RAILPACK", buildCommand: "npm run build" },
    // node itself receives SIGTERM: no npm in between, no compiling at boot.
    start: "node dist/server/main.js",
    // Migrations run once per deploy, before any new instance starts (they take an advisory lock, so the
    // worker's pre-deploy or an instance still starting can never race them).
    preDeploy: MIGRATE_COMMAND,
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
      // Set once per environment with `railway variables --set` (docs/guides/deploy.md); apply keeps it
      // and never prints it.
      SESSION_SECRET: preserve(),
      // Encrypts TOTP secrets at rest; set once like the session secret.
      MFA_ENCRYPTION_KEY: preserve(),
      // Queued jobs (mail) run in the worker service below, not in the web replicas.
      WORKER_MODE: "off",
      // Mail settings, set with `railway variables --set` (docs/guides/deploy.md): the web process reads
      // them too (whether verification mails can be sent decides EMAIL_VERIFICATION's default).
      SMTP_URL: preserve(),
      MAIL_FROM: preserve(),
    },
  });

  // Runs the queued jobs (mail) from the same build: no HTTP, no healthcheck. On redeploy SIGTERM stops it
  // taking jobs and lets a mail being sent finish; a job of a killed worker is run again (QUEUE_STALLED_MS).
  const worker = service("worker", {
    build: { builder: "RAILPACK", buildCommand: "npm run build" },
    start: "node dist/server/worker.js",
    // The worker only checks the schema is current: the same pre-deploy step brings it there.
    preDeploy: MIGRATE_COMMAND,
    replicas: 1,
    deploy: {
      restartPolicyType: "ON_FAILURE",
      restartPolicyMaxRetries: 5,
      drainingSeconds: DRAINING_SECONDS,
    },
    env: {
      NODE_ENV: "production",
      RAILPACK_NODE_VERSION: "22",
      REDIS_URL: cache.env.REDIS_URL,
      DATABASE_URL: db.env.DATABASE_URL,
      // The config is the web process' (it refuses to start in production without a secret): the app's own.
      SESSION_SECRET: app.env.SESSION_SECRET,
      MFA_ENCRYPTION_KEY: app.env.MFA_ENCRYPTION_KEY,
      // Mail delivery, set with `railway variables --set` (docs/guides/deploy.md): the worker sends.
      SMTP_URL: preserve(),
      MAIL_FROM: preserve(),
      // The worker has no public domain of its own: the origin of the links in mails.
      PUBLIC_URL: preserve(),
    },
  });

  return project("redis-session-server", { resources: [cache, db, app, worker] });
});
