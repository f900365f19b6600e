import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { createPgliteDatabase, createPostgresDatabase } from "../../server/infra/db/database.js";
import { migrate } from "../../server/infra/db/migrate.js";
import { silentLogger } from "./logger.js";
import { startRedisCluster } from "./redis-cluster.js";
import { startRedisServer } from "./redis-server.js";

/** Logical databases on the shared redis-server: each test file takes one of its own (db 0 keeps the counter). */
export const SHARED_REDIS_DATABASES = 1024;

declare module "vitest" {
  export interface ProvidedContext {
    /** The run's redis-server, shared by every file that does not break Redis. */
    sharedRedis: { port: number; url: string };
    /** The run's 3-master Redis Cluster, shared by every file that does not break it (keys by prefix). */
    sharedCluster: { url: string; ports: number[] };
    /** The run's migrated PostgreSQL schema (TEST_DATABASE_URL), or null: each file then uses an in-process PGlite. */
    sharedPostgres: { url: string; schema: string } | null;
    /** Without TEST_DATABASE_URL: a migrated PGlite data directory that each file copies (no initdb per file). */
    pgliteTemplate: string | null;
  }
}

/**
 * Starts one redis-server and one Redis Cluster and migrates one PostgreSQL schema for the whole run;
 * stops and drops them after.
 */
export default async function setup(project: TestProject) {
  const [redis, cluster] = await Promise.all([
    startRedisServer({ extraArgs: ["--databases", String(SHARED_REDIS_DATABASES)] }),
    startRedisCluster(),
  ]);
  project.provide("sharedRedis", { port: redis.port, url: redis.url });
  project.provide("sharedCluster", { url: cluster.url, ports: cluster.nodes.map((n) => n.port) });

  const url = process.env.TEST_DATABASE_URL;
  let schema: string | undefined;
  if (url) {
    schema = `test_${randomBytes(6).toString("hex")}`;
    const logger = silentLogger();
    const db = createPostgresDatabase({ url, schema, poolMax: 2, timeoutMs: 5000 }, logger);
    await migrate(db, logger, schema);
    await db.close();
  }
  project.provide("sharedPostgres", url && schema ? { url, schema } : null);

  // Creating an embedded database (initdb in WebAssembly) takes seconds: done once, then copied.
  let template: string | undefined;
  if (!url) {
    template = mkdtempSync(join(tmpdir(), "pglite-template-"));
    const db = await createPgliteDatabase({ dataDir: template });
    await migrate(db, silentLogger());
    await db.close();
  }
  project.provide("pgliteTemplate", template ?? null);

  return async () => {
    await redis.stop();
    await cluster.stop();
    if (url && schema) await dropSchema(url, schema);
    if (template) rmSync(template, { recursive: true, force: true });
  };
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await admin.end();
  }
}
