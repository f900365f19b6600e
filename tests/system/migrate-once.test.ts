import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createPostgresDatabase } from "../../server/infra/db/database.js";
import { MIGRATE_COMMAND, migrate } from "../../server/infra/db/migrate.js";
import { MIGRATIONS } from "../../server/infra/db/migrations.js";
import { TEST_SECRET, uniquePrefix } from "../helpers/app.js";
import { closeAfterFile, sharedRedis } from "../helpers/fixtures.js";
import { dropSchema } from "../helpers/global-setup.js";
import { silentLogger } from "../helpers/logger.js";
import { type ServerProcess, startProcess, startServerProcess } from "../helpers/processes.js";

// Cold starts need a database server every worker shares: the run's PostgreSQL, in schemas of this file.
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const COLD_STARTS = 10;
const WORKERS = 4;

function newSchema(): string {
  const schema = `test_cold_${randomBytes(4).toString("hex")}`;
  closeAfterFile(() => dropSchema(DATABASE_URL, schema));
  return schema;
}

async function appliedVersions(schema: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: number }>(
      `SELECT version FROM "${schema}".schema_migrations ORDER BY version`,
    );
    return rows.map((r) => Number(r.version));
  } finally {
    await client.end();
  }
}

const logLines = (server: ServerProcess) =>
  server
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe("migrate once, before anything serves", () => {
  it(`${COLD_STARTS} cold starts with WEB_CONCURRENCY=${WORKERS} on new schemas, two replicas racing on each: every one healthy`, async () => {
    const redis = await sharedRedis();
    // Replicas of one deployment boot together on the same new schema, as Railway starts them.
    for (let pair = 0; pair < COLD_STARTS / 2; pair++) {
      const schema = newSchema();
      const env = {
        NODE_ENV: "test",
        WEB_CONCURRENCY: String(WORKERS),
        REDIS_URL: redis.url,
        KEY_PREFIX: uniquePrefix(),
        DATABASE_URL,
        DATABASE_SCHEMA: schema,
        SESSION_SECRET: TEST_SECRET,
        SHUTDOWN_DELAY_MS: "0",
        SHUTDOWN_TIMEOUT_MS: "5000",
      };
      const replicas = await Promise.all([
        startServerProcess(env, undefined, 180_000),
        startServerProcess(env, undefined, 180_000),
      ]);
      try {
        for (const server of replicas) {
          await expect
            .poll(() => logLines(server).filter((l) => l.msg === "worker listening").length, {
              timeout: 60_000,
              interval: 100,
            })
            .toBe(WORKERS);
          expect((await fetch(`${server.url}/health/ready`)).status, server.output()).toBe(200);
          const lines = logLines(server);
          // Only the primary migrated; no worker ran a migration or failed to start. (Other errors, such as a
          // Redis command timing out on a busy machine, say nothing about start-up.)
          expect(lines.filter((l) => l.msg === "migration applied").every((l) => l.role === "primary")).toBe(
            true,
          );
          expect(
            lines.filter((l) => l.level === "fatal" || /failed to start|worker died/.test(String(l.msg))),
          ).toEqual([]);
        }
        expect(await appliedVersions(schema)).toEqual(MIGRATIONS.map((m) => m.version));
        // The migrations ran once between the two replicas.
        const applied = replicas.flatMap((s) => logLines(s).filter((l) => l.msg === "migration applied"));
        expect(applied).toHaveLength(MIGRATIONS.length);
      } finally {
        for (const server of replicas) expect(await server.stop("SIGTERM"), server.output()).toBe(0);
      }
    }
  }, 1_200_000);

  it(`the mail worker refuses a database that is not current, naming \`${MIGRATE_COMMAND}\``, async () => {
    const redis = await sharedRedis();
    const schema = newSchema();
    const logger = silentLogger();
    const db = createPostgresDatabase({ url: DATABASE_URL, schema, poolMax: 1, timeoutMs: 5000 }, logger);
    try {
      await migrate(db, logger, schema);
      // A schema one release behind: the last migration not applied yet.
      const last = MIGRATIONS[MIGRATIONS.length - 1]!.version;
      await db.query("DELETE FROM schema_migrations WHERE version = $1", [last]);
      const worker = startProcess("server/worker.ts", {
        NODE_ENV: "test",
        REDIS_URL: redis.url,
        KEY_PREFIX: uniquePrefix(),
        DATABASE_URL,
        DATABASE_SCHEMA: schema,
        SESSION_SECRET: TEST_SECRET,
      });
      expect(await worker.exited).toBe(1);
      const lines = worker
        .output()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const fatal = lines.find((l) => l.level === "fatal");
      expect(fatal, worker.output()).toMatchObject({ role: "mail worker" });
      expect(fatal?.msg).toContain(`missing migration ${last}`);
      expect(fatal?.msg).toContain(MIGRATE_COMMAND);
      expect(lines.some((l) => l.msg === "mail worker running")).toBe(false);
      // It changed nothing: migrating is the web process' and the command's job.
      expect(await appliedVersions(schema)).not.toContain(last);
    } finally {
      await db.close();
    }
  }, 120_000);
});
